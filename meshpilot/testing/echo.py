"""A tiny HTTP upstream that says who it is: `{"name": ..., "path": ..., "headers": {...}}`.

Runs in a thread (`EchoServer`) or as a process (`python -m meshpilot.testing.echo NAME PORT`).
`status` lets a test make it fail (e.g. always 503).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        srv = self.server
        with srv.lock:
            srv.hits += 1
            srv.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            del srv.requests[:-1000]
        if srv.delay:
            time.sleep(srv.delay)
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "name": srv.name,
                "path": self.path,
                "method": self.command,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(srv.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", srv.name)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, port: int, host: str) -> None:
        super().__init__((host, port), _Handler)
        self.name = name
        self.status = 200
        self.delay = 0.0
        self.hits = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()


class EchoServer:
    def __init__(self, name: str, port: int = 0, host: str = "127.0.0.1") -> None:
        self._srv = _Server(name, port, host)
        self.name = name
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever, name=f"echo-{name}", daemon=True)

    def start(self) -> EchoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    @property
    def hits(self) -> int:
        return self._srv.hits

    def set_status(self, status: int) -> None:
        self._srv.status = status

    def set_delay(self, seconds: float) -> None:
        self._srv.delay = seconds

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, headers) of the last 1000 requests."""
        with self._srv.lock:
            return list(self._srv.requests)


if __name__ == "__main__":
    name, port = sys.argv[1], int(sys.argv[2])
    server = _Server(name, port, "127.0.0.1")
    server.serve_forever()
