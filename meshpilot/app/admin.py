"""Admin HTTP: /metrics, /ready, /debug/connections, /debug/config_dump?node=<id>."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from google.protobuf import any_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from meshpilot.observe import metrics
from meshpilot.translator.render import plain
from meshpilot.xds.server import XdsServer
from meshpilot.xds.snapshot import PUSH_ORDER, short_type

Response = tuple[int, str, bytes]


def any_to_plain(a: any_pb2.Any) -> Any:
    """Deterministic, with private keys redacted (see translator.render)."""
    return plain(a)


def _json(status: int, body: Any) -> Response:
    return status, "application/json", (json.dumps(body, indent=2, sort_keys=False) + "\n").encode()


class AdminApp:
    def __init__(self, xds: XdsServer, is_ready: Callable[[], bool]) -> None:
        self.xds = xds
        self.is_ready = is_ready

    def handle(self, path: str, query: dict[str, list[str]]) -> Response:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(metrics.REGISTRY)
        if path == "/ready":
            if self.is_ready():
                return 200, "text/plain", b"ready\n"
            return 503, "text/plain", b"not ready: first config not loaded\n"
        if path == "/debug/connections":
            return _json(200, [self._conn_summary(c) for c in self.xds.connections.values()])
        if path == "/debug/syncz":
            return _json(200, self.xds.status_rows())
        if path == "/debug/config_dump":
            node = (query.get("node") or [""])[0]
            conns = [c for c in self.xds.connections.values() if c.proxy.node_id == node]
            if not node:
                return _json(400, {"error": "missing ?node=<node id>", "connected": self._nodes()})
            if not conns:
                return _json(404, {"error": f"no proxy {node!r} is connected", "connected": self._nodes()})
            conn = conns[-1]
            return _json(
                200,
                {
                    "node_id": node,
                    "resources": {
                        short_type(t): {
                            "version": conn.sent[t].version_info,
                            "resources": [any_to_plain(r) for r in conn.sent[t].resources],
                        }
                        for t in PUSH_ORDER
                        if t in conn.sent
                    },
                },
            )
        return _json(
            404,
            {
                "error": f"no such path {path}",
                "paths": [
                    "/metrics",
                    "/ready",
                    "/debug/connections",
                    "/debug/syncz",
                    "/debug/config_dump?node=ID",
                ],
            },
        )

    def _nodes(self) -> list[str]:
        return sorted({c.proxy.node_id for c in self.xds.connections.values()})

    def _conn_summary(self, c: Any) -> dict[str, Any]:
        now = time.time()
        return {
            "node_id": c.proxy.node_id,
            "connection": c.id,
            "peer": c.peer,
            "connected_seconds": round(now - c.connected_at, 1),
            "types": {
                short_type(t): {
                    "sent": st.sent_version,
                    "acked": st.acked_version,
                    "nacked": st.nacked.message if st.nacked else None,
                }
                for t, st in c.stream.types.items()
            },
        }

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, ctype, body = 405, "text/plain", b"only GET is supported\n"
            else:
                url = urllib.parse.urlsplit(parts[1])
                status, ctype, body = self.handle(url.path, urllib.parse.parse_qs(url.query))
            reason = {
                200: "OK",
                400: "Bad Request",
                404: "Not Found",
                405: "Method Not Allowed",
                503: "Service Unavailable",
            }.get(status, "")
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (body if parts[:1] != ["HEAD"] else b""))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def start_admin(app: AdminApp, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(app.serve_connection, host, port)
