"""TLS test helpers: a throwaway PKI (openssl CLI), TLS and TCP echo upstreams, raw clients.

Certificates are RSA so that TLS 1.1 clients (ECDHE-RSA-AES128-SHA) can be tested too, and
valid for two days: they live in a test's temporary directory.
"""

from __future__ import annotations

import dataclasses
import pathlib
import socket
import socketserver
import ssl
import subprocess
import threading
import warnings
from typing import Any

TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class Cert:
    cert: pathlib.Path
    key: pathlib.Path

    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert.read_text())


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: pathlib.Path, name: str = "ca") -> Cert:
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/O=meshpilot tests/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return Cert(directory / f"{name}.crt", directory / f"{name}.key")


def issue(ca: Cert, name: str, cn: str, sans: list[str], *, client: bool = False) -> Cert:
    """A leaf certificate signed by `ca` (sans like `DNS:*.example.com`, `URI:spiffe://...`)."""
    directory = ca.cert.parent
    usage = "clientAuth" if client else "serverAuth"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/O=meshpilot tests/CN={cn}",
        "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-addext", "basicConstraints=CA:FALSE", "-addext", f"extendedKeyUsage={usage}",
        "-addext", "subjectAltName=" + ",".join(sans),
        cwd=directory,
    )  # fmt: skip
    return Cert(directory / f"{name}.crt", directory / f"{name}.key")


def client_context(
    ca: Cert,
    *,
    version: ssl.TLSVersion | None = None,
    cert: Cert | None = None,
    ciphers: str = "",
    alpn: list[str] | None = None,
) -> ssl.SSLContext:
    """A verifying client; `version` pins both ends of the protocol range."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca.cert))
    if version is not None and version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 allows TLS < 1.2 only at security level 0 (and with CBC suites).
        ctx.set_ciphers((ciphers or "ECDHE-RSA-AES128-SHA") + ":@SECLEVEL=0")
    elif ciphers:
        ctx.set_ciphers(ciphers)
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # old TLS versions, on purpose
            ctx.minimum_version = ctx.maximum_version = version
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


@dataclasses.dataclass
class TlsResult:
    version: str | None
    cipher: str | None
    alpn: str | None
    peer_der: bytes
    data: bytes

    @classmethod
    def of(cls, tls: ssl.SSLSocket, data: bytes = b"") -> TlsResult:
        cipher = tls.cipher()
        peer = tls.getpeercert(binary_form=True) or b""
        return cls(tls.version(), cipher[0] if cipher else None, tls.selected_alpn_protocol(), peer, data)


def tls_exchange(port: int, sni: str, ctx: ssl.SSLContext, payload: bytes) -> TlsResult:
    """Handshake with `sni`, send `payload`, read the answer until the other side closes."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        result = TlsResult.of(tls)
        tls.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = tls.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        result.data = b"".join(chunks)
        return result


def https_get(port: int, host: str, ctx: ssl.SSLContext, path: str = "/") -> tuple[int, bytes, TlsResult]:
    """One HTTP/1.1 request over TLS with SNI and Host `host`: (status, body, TLS details)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    result = tls_exchange(port, host, ctx, request)
    head, _, body = result.data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body, result


class _EchoHandler(socketserver.BaseRequestHandler):
    server: _EchoServer

    def handle(self) -> None:
        conn: Any = self.request
        srv = self.server
        if srv.context is not None:
            try:
                conn = srv.context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with srv.lock:
            srv.connections += 1
        conn.settimeout(TIMEOUT_S)
        try:
            data = conn.recv(65536)
            conn.sendall(f"{srv.name}:".encode() + data)
        except OSError:
            pass
        finally:
            conn.close()


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.name = name
        self.context = context
        self.connections = 0
        self.lock = threading.Lock()


class EchoUpstream:
    """A TCP upstream that answers one read with `<name>:<what it read>`; TLS when given a cert."""

    def __init__(self, name: str, cert: Cert | None = None) -> None:
        ctx = None
        if cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        self._srv = _EchoServer(name, ctx)
        self.name = name
        self.port: int = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever, name=f"echo-{name}", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return self._srv.connections

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()


def tls_handshake(port: int, sni: str, ctx: ssl.SSLContext) -> TlsResult:
    """Handshake only (no data): the negotiated version, ALPN and the peer's certificate."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        return TlsResult.of(tls)
