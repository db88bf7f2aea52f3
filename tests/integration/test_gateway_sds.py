"""Gateway certificates from Kubernetes Secrets (`credentialName`), served by meshpilot over SDS
to a real Envoy: the handshake uses the secret's certificate, mutual TLS uses its ca.crt, and
editing the Secret rotates the certificate without restarting anything."""

from __future__ import annotations

import base64
import json
import pathlib
from collections.abc import Callable

import yaml

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import http_get, wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, write
from tests.integration.tls_helpers import Cert, client_context, https_get, issue, make_ca

MESH = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {port}, name: https, protocol: HTTPS}}
    hosts: [shop.example.com]
    tls: {{mode: SIMPLE, credentialName: shop-cert}}
  - port: {{number: {port}, name: https-partners, protocol: HTTPS}}
    hosts: [partners.example.com]
    tls: {{mode: MUTUAL, credentialName: partners-cert}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {{selector: {{app: web}}, ports: [{{name: http, port: 80}}]}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: web-1, namespace: default}}
spec: {{address: 127.0.0.1, ports: {{http: {upstream}}}, labels: {{app: web}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: [shop.example.com, partners.example.com]
  gateways: [istio-system/ingress]
  http: [{{route: [{{destination: {{host: web}}}}]}}]
"""


def secret(name: str, cert: Cert, ca: Cert | None = None) -> str:
    data = {
        "tls.crt": base64.b64encode(cert.cert.read_bytes()).decode(),
        "tls.key": base64.b64encode(cert.key.read_bytes()).decode(),
    }
    if ca is not None:
        data["ca.crt"] = base64.b64encode(ca.cert.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "istio-system"},
        "type": "kubernetes.io/tls",
        "data": data,
    }
    return yaml.safe_dump(doc)


def test_credential_name_served_over_sds_mutual_tls_and_rotation(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    ca = make_ca(tmp_path / "pki")
    shop = issue(ca, "shop", "shop.example.com", ["DNS:shop.example.com"])
    partners = issue(ca, "partners", "partners.example.com", ["DNS:partners.example.com"])
    client = issue(ca, "client", "client", ["DNS:client.example.com"], client=True)
    web = echo("web")
    port = free_port()
    cfg = tmp_path / "config"
    cfg.mkdir()
    write(cfg / "mesh.yaml", MESH.format(port=port, upstream=web.port))
    write(cfg / "secrets.yaml", secret("shop-cert", shop) + "---\n" + secret("partners-cert", partners, ca))
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    # The secret's certificate is what the gateway presents (SDS over the same ADS stream).
    status, _, tls = https_get(port, "shop.example.com", client_context(ca))
    assert status == 200 and tls.peer_der == shop.der()
    # Mutual TLS: the client CA comes from the secret's ca.crt.
    status, _, tls = https_get(port, "partners.example.com", client_context(ca, cert=client))
    assert status == 200 and tls.peer_der == partners.der()
    try:
        https_get(port, "partners.example.com", client_context(ca))
        raise AssertionError("a client without a certificate was accepted")
    except (OSError, ValueError):
        pass
    # meshpilot's debug endpoint never shows private keys (as Envoy's own dump).
    _, _, body = http_get(f"{mp.admin}/debug/config_dump?node={gw.node_id}")
    sds = json.loads(body)["resources"]["SDS"]["resources"]
    assert sorted(s["name"] for s in sds) == [
        "kubernetes://partners-cert",
        "kubernetes://partners-cert-cacert",
        "kubernetes://shop-cert",
    ]
    assert b"PRIVATE KEY" not in body and body.count(b"[redacted]") == 2
    # Rotation: a new certificate in the Secret reaches the gateway without a restart.
    renewed = issue(ca, "shop2", "shop.example.com", ["DNS:shop.example.com"])
    write(cfg / "secrets.yaml", secret("shop-cert", renewed) + "---\n" + secret("partners-cert", partners, ca))
    wait_for(
        lambda: https_get(port, "shop.example.com", client_context(ca))[2].peer_der == renewed.der(), 20, "rotation"
    )
    assert mp.events("xds.nack") == []
