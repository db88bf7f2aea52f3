"""The traffic-lane demo's service: answers `-> NAME(version: V, ip: IP)` followed by what the
next service in the chain answered, calling it through its own sidecar and passing the
`my-request-id` header along (the lane header).

    python mockapp.py --name mocka --version v1 --ip 127.0.0.11 --listen 127.0.0.11:9000 \
        --next mockb --sidecar 127.0.0.11:8080
"""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LANE_HEADER = "my-request-id"


def make_handler(ns: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            text = f"-> {ns.name}(version: {ns.version}, ip: {ns.ip})"
            if ns.next:
                headers = {"host": ns.next}
                lane = self.headers.get(LANE_HEADER)
                if lane:
                    headers[LANE_HEADER] = lane
                req = urllib.request.Request(f"http://{ns.sidecar}/", headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        text += resp.read().decode()
                except urllib.error.HTTPError as err:
                    text += f"-> {ns.next}(error: HTTP {err.code})"
                except OSError as err:
                    text += f"-> {ns.next}(error: {err})"
            body = text.encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--ip", required=True, help="the address shown in answers")
    p.add_argument("--listen", default="0.0.0.0:9000")
    p.add_argument("--next", default="", help="the next service's host, called through the sidecar")
    p.add_argument("--sidecar", default="127.0.0.1:8080", help="the sidecar's egress listener")
    ns = p.parse_args()
    host, _, port = ns.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(ns))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
