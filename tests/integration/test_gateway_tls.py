"""Gateway TLS, TCP and TLS routes with real parts: meshpilot serving a config directory over
ADS, a real Envoy gateway, local upstreams, and Python's ssl module as the client.

Certificates are made per test (tls_helpers.make_ca / issue); the gateway reads them from files.
"""

from __future__ import annotations

import functools
import http.client
import json
import pathlib
import socket
import ssl
from collections.abc import Callable, Iterator

import pytest

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, write
from tests.integration.tls_helpers import (
    Cert,
    EchoUpstream,
    client_context,
    https_get,
    issue,
    make_ca,
    tls_exchange,
    tls_handshake,
)

GATEWAY_HEAD = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
"""

SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: {port_name}, port: {port}}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: {name}, namespace: default}}
spec:
  address: 127.0.0.1
  ports: {{{port_name}: {target}}}
  labels: {{app: {name}}}
"""


def service(name: str, target: int, port: int = 80, port_name: str = "http") -> str:
    """A Service `name` whose one endpoint is 127.0.0.1:`target`."""
    return SERVICE.format(name=name, port=port, port_name=port_name, target=target)


@pytest.fixture
def pki(tmp_path: pathlib.Path) -> dict[str, Cert]:
    ca = make_ca(tmp_path / "pki")
    return {
        "ca": ca,
        "server": issue(ca, "server", "*.example.com", ["DNS:*.example.com"]),
        "client": issue(ca, "client", "client", ["URI:spiffe://example.com/client"], client=True),
        "intruder": issue(ca, "intruder", "intruder", ["URI:spiffe://example.com/intruder"], client=True),
    }


@pytest.fixture
def upstreams() -> Iterator[Callable[..., EchoUpstream]]:
    started: list[EchoUpstream] = []

    def start(name: str, cert: Cert | None = None) -> EchoUpstream:
        u = EchoUpstream(name, cert)
        started.append(u)
        return u

    yield start
    for u in started:
        u.stop()


def serve(
    tmp_path: pathlib.Path,
    config: str,
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
    ports: list[int],
) -> Gateway:
    """meshpilot serving `config`, and a gateway Envoy with a listener on each of `ports`."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    write(cfg / "config.yaml", config)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, ports[0])
    for port in ports[1:]:
        wait_for(functools.partial(gw.listener_active, port), 30, f"Envoy listener on port {port}")
    return gw


def tls_server(port: int, name: str, hosts: str, pki: dict[str, Cert], extra: str = "", protocol: str = "HTTPS") -> str:
    return f"""
  - port: {{number: {port}, name: {name}, protocol: {protocol}}}
    hosts: {hosts}
    tls:
      mode: SIMPLE
      serverCertificate: {pki["server"].cert}
      privateKey: {pki["server"].key}
{extra}"""


def refused(call: Callable[[], object]) -> Exception:
    """The exception a TLS exchange that must fail raised (a handshake alert or a reset)."""
    try:
        result = call()
    except (ssl.SSLError, ConnectionError) as exc:
        return exc
    raise AssertionError(f"expected the gateway to refuse the connection, got {result!r}")


def test_https_protocol_versions_ciphers_sni_and_alpn(
    tmp_path: pathlib.Path,
    pki: dict[str, Cert],
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    """Two HTTPS servers on one port, picked by SNI, each with its own TLS parameters: the default
    (TLS 1.2 and up) refuses a TLS 1.1 client; `legacy` (TLSV1_1..TLSV1_2 with a CBC suite) takes
    it and refuses TLS 1.3."""
    port = free_port()
    web = echo("web")
    legacy_tls = """      minProtocolVersion: TLSV1_1
      maxProtocolVersion: TLSV1_2
      cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-SHA]
"""
    config = (
        GATEWAY_HEAD
        + tls_server(port, "https-secure", "[secure.example.com]", pki)
        + tls_server(port, "https-legacy", "[legacy.example.com]", pki, legacy_tls)
        + """
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [secure.example.com, legacy.example.com]
  gateways: [istio-system/ingress]
  http:
  - route: [{destination: {host: web}}]
"""
        + service("web", web.port)
    )
    serve(tmp_path, config, meshpilot, gateway, [port])
    ca = pki["ca"]
    tls12 = client_context(ca, version=ssl.TLSVersion.TLSv1_2)
    status, body, tls = wait_for(lambda: _ok(https_get(port, "secure.example.com", tls12)), 20, "HTTPS 200")
    assert json.loads(body)["name"] == "web" and tls.version == "TLSv1.2"
    assert tls.peer_der == pki["server"].der()  # the configured certificate, verified by the client

    # No pinned version: TLS 1.3 (the maximum defaults to Envoy's, TLS 1.3).
    status, _, tls = https_get(port, "secure.example.com", client_context(ca))
    assert (status, tls.version) == (200, "TLSv1.3")

    tls11 = client_context(ca, version=ssl.TLSVersion.TLSv1_1)
    exc = refused(lambda: https_get(port, "secure.example.com", tls11))
    assert "VERSION" in str(exc).upper(), exc  # a protocol_version alert, not some other failure
    status, body, tls = https_get(port, "legacy.example.com", tls11)
    assert (status, tls.version, json.loads(body)["name"]) == (200, "TLSv1.1", "web")

    tls13 = client_context(ca, version=ssl.TLSVersion.TLSv1_3)
    refused(lambda: https_get(port, "legacy.example.com", tls13))
    # cipherSuites: a TLS 1.2 client offering only a suite outside the legacy list is refused.
    gcm384 = client_context(ca, version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES256-GCM-SHA384")
    refused(lambda: https_get(port, "legacy.example.com", gcm384))
    assert https_get(port, "secure.example.com", gcm384)[0] == 200

    # ALPN h2 and http/1.1, as istiod's gateways offer.
    assert tls_handshake(port, "secure.example.com", client_context(ca, alpn=["h2", "http/1.1"])).alpn == "h2"
    assert tls_handshake(port, "secure.example.com", client_context(ca, alpn=["http/1.1"])).alpn == "http/1.1"


def _ok(result: tuple[int, bytes, object]) -> tuple[int, bytes, object] | None:
    return result if result[0] == 200 else None


def test_mutual_tls_requires_a_client_certificate_from_the_ca(
    tmp_path: pathlib.Path,
    pki: dict[str, Cert],
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    port = free_port()
    web = echo("web")
    config = (
        GATEWAY_HEAD
        + f"""
  - port: {{number: {port}, name: https-mtls, protocol: HTTPS}}
    hosts: [mtls.example.com]
    tls:
      mode: MUTUAL
      serverCertificate: {pki["server"].cert}
      privateKey: {pki["server"].key}
      caCertificates: {pki["ca"].cert}
      subjectAltNames: ["spiffe://example.com/client"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: [mtls.example.com]
  gateways: [istio-system/ingress]
  http:
  - route: [{{destination: {{host: web}}}}]
"""
        + service("web", web.port)
    )
    serve(tmp_path, config, meshpilot, gateway, [port])
    ca = pki["ca"]
    with_cert = client_context(ca, cert=pki["client"])
    _, body, _ = wait_for(lambda: _ok(https_get(port, "mtls.example.com", with_cert)), 20, "mTLS 200")
    # The upstream learns who the client is (istiod's SANITIZE_SET x-forwarded-client-cert).
    xfcc = json.loads(body)["headers"]["x-forwarded-client-cert"]
    assert "URI=spiffe://example.com/client" in xfcc and "CN=client" in xfcc, xfcc

    hits = web.hits
    # Without a client certificate: TLS 1.2 fails in the handshake itself (the server's alert);
    # TLS 1.3 clients finish theirs before the server's verdict, so their request fails instead.
    tls12 = ssl.TLSVersion.TLSv1_2
    exc = refused(lambda: tls_handshake(port, "mtls.example.com", client_context(ca, version=tls12)))
    assert isinstance(exc, ssl.SSLError) and "HANDSHAKE_FAILURE" in str(exc), exc
    refused(lambda: https_get(port, "mtls.example.com", client_context(ca)))
    # A certificate from the right CA but with another SAN (subjectAltNames) is refused too,
    intruder = client_context(ca, version=tls12, cert=pki["intruder"])
    assert isinstance(refused(lambda: tls_handshake(port, "mtls.example.com", intruder)), ssl.SSLError)
    # and so is one from another CA.
    other_ca = make_ca(tmp_path / "other-pki", "other-ca")
    stranger = issue(other_ca, "stranger", "client", ["URI:spiffe://example.com/client"], client=True)
    strange = client_context(ca, version=tls12, cert=stranger)
    assert isinstance(refused(lambda: tls_handshake(port, "mtls.example.com", strange)), ssl.SSLError)
    assert web.hits == hits
    assert https_get(port, "mtls.example.com", with_cert)[0] == 200


def test_tls_passthrough_routes_by_sni_to_the_upstreams_own_tls(
    tmp_path: pathlib.Path,
    pki: dict[str, Cert],
    upstreams: Callable[..., EchoUpstream],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    """The gateway does not terminate: the client's SNI picks the upstream, and the client sees
    the upstream's own certificate."""
    port = free_port()
    ca = pki["ca"]
    certs = {n: issue(ca, f"up-{n}", f"{n}.passthrough.test", [f"DNS:{n}.passthrough.test"]) for n in "ab"}
    ups = {n: upstreams(n, certs[n]) for n in "ab"}
    config = (
        GATEWAY_HEAD
        + f"""
  - port: {{number: {port}, name: tls-passthrough, protocol: TLS}}
    hosts: ["*.passthrough.test"]
    tls: {{mode: PASSTHROUGH}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: passthrough, namespace: default}}
spec:
  hosts: ["*.passthrough.test"]
  gateways: [istio-system/ingress]
  tls:
  - match: [{{sniHosts: [a.passthrough.test]}}]
    route: [{{destination: {{host: up-a, port: {{number: 443}}}}}}]
  - match: [{{sniHosts: [b.passthrough.test], port: {port}}}]
    route: [{{destination: {{host: up-b}}}}]
"""
        + service("up-a", ups["a"].port, 443, "tls")
        + service("up-b", ups["b"].port, 443, "tls")
    )
    serve(tmp_path, config, meshpilot, gateway, [port])
    ctx = client_context(ca)
    for n in "ab":
        result = wait_for(functools.partial(tls_exchange, port, f"{n}.passthrough.test", ctx, b"hello"), 20, f"SNI {n}")
        assert result.data == f"{n}:hello".encode()
        assert result.peer_der == certs[n].der() != pki["server"].der()
    # No filter chain for another SNI: the connection is closed before any handshake.
    refused(lambda: tls_exchange(port, "c.passthrough.test", client_context(ca), b"hello"))
    assert ups["a"].connections + ups["b"].connections == 2


def test_tcp_routes_plain_and_behind_tls_termination(
    tmp_path: pathlib.Path,
    pki: dict[str, Cert],
    upstreams: Callable[..., EchoUpstream],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    """A TCP server splits connections by weight; a TLS server (SIMPLE) terminates TLS and proxies
    the plaintext stream to a plain TCP upstream."""
    tcp_port, tls_port = free_port(), free_port()
    one, two, db = upstreams("one"), upstreams("two"), upstreams("db")
    config = (
        GATEWAY_HEAD
        + f"""
  - port: {{number: {tcp_port}, name: tcp, protocol: TCP}}
    hosts: ["*"]
"""
        + tls_server(tls_port, "tls-db", "[db.example.com]", pki, protocol="TLS")
        + f"""
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: split, namespace: default}}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingress]
  tcp:
  - match: [{{port: {tcp_port}}}]
    route:
    - {{destination: {{host: one}}, weight: 50}}
    - {{destination: {{host: two}}, weight: 50}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: db, namespace: default}}
spec:
  hosts: [db.example.com]
  gateways: [istio-system/ingress]
  tcp:
  - match: [{{port: {tls_port}}}]  # without it, it would also take the TCP server's "*" (istiod)
    route: [{{destination: {{host: db}}}}]
"""
        + service("one", one.port, 7000, "tcp")
        + service("two", two.port, 7000, "tcp")
        + service("db", db.port, 5432, "tcp-postgres")
    )
    serve(tmp_path, config, meshpilot, gateway, [tcp_port, tls_port])

    def tcp(payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as s:
            s.sendall(payload)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    wait_for(lambda: tcp(b"ping") in (b"one:ping", b"two:ping"), 20, "TCP route")
    answers = {tcp(f"ping{i}".encode()).split(b":")[0] for i in range(30)}
    assert answers == {b"one", b"two"}  # both legs of the 50/50 split (a miss is 2 * 0.5^30)

    result = wait_for(
        lambda: tls_exchange(tls_port, "db.example.com", client_context(pki["ca"]), b"select 1"), 20, "TLS"
    )
    assert result.data == b"db:select 1"
    assert result.peer_der == pki["server"].der()  # terminated by the gateway
    refused(lambda: tls_exchange(tls_port, "other.example.com", client_context(pki["ca"]), b"select 1"))


def test_https_redirect_answers_301_to_https(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    port, plain = free_port(), free_port()
    web = echo("web")
    config = (
        GATEWAY_HEAD
        + f"""
  - port: {{number: {port}, name: http, protocol: HTTP}}
    hosts: ["*.example.com"]
    tls: {{httpsRedirect: true}}
  - port: {{number: {plain}, name: http-plain, protocol: HTTP}}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/ingress]
  http:
  - route: [{{destination: {{host: web}}}}]
"""
        + service("web", web.port)
    )
    serve(tmp_path, config, meshpilot, gateway, [port, plain])

    def get(p: int, host: str, path: str = "/") -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", p, timeout=5)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.getheader("location") or ""
        finally:
            conn.close()

    # The plain server on the other port routes the same VirtualService: proof the routes work.
    wait_for(lambda: get(plain, "shop.example.com")[0] == 200, 20, "plain HTTP route")
    hits = web.hits
    assert get(port, "shop.example.com", "/cart?item=1") == (301, "https://shop.example.com/cart?item=1")
    # A host of the server without any route redirects too (istiod adds a virtual host for it).
    assert get(port, "other.example.com", "/") == (301, "https://other.example.com/")
    assert web.hits == hits
