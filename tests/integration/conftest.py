from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator

import pytest

from meshpilot.observe.events import missing_keys
from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import EnvoyNotFound, find_envoy
from tests.integration.harness import Gateway, MeshpilotProcess


@pytest.fixture(scope="session", autouse=True)
def envoy_binary() -> str:
    """Integration tests need the real Envoy: missing is a failure, never a skip."""
    try:
        return find_envoy()
    except EnvoyNotFound as exc:
        pytest.fail(str(exc))


@pytest.fixture
def echo() -> Iterator[Callable[[str], EchoServer]]:
    servers: list[EchoServer] = []

    def start(name: str) -> EchoServer:
        s = EchoServer(name).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def meshpilot(tmp_path: pathlib.Path) -> Iterator[Callable[..., MeshpilotProcess]]:
    procs: list[MeshpilotProcess] = []

    def start(config_dir: pathlib.Path, wait_ready: bool = True, **kw: object) -> MeshpilotProcess:
        p = MeshpilotProcess(config_dir, tmp_path, **kw).start(wait_ready)  # type: ignore[arg-type]
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()
    # Every event meshpilot logged in the test follows the documented schema (the catalog).
    for p in procs:
        for ev in p.events():
            assert not missing_keys(ev), f"event {ev.get('event')} lacks documented keys {missing_keys(ev)}: {ev}"


@pytest.fixture
def gateway(tmp_path: pathlib.Path) -> Iterator[Callable[..., Gateway]]:
    gws: list[Gateway] = []

    def start(xds_port: int, listener_port: int | None = None, **kw: object) -> Gateway:
        g = Gateway(tmp_path, xds_port, **kw)  # type: ignore[arg-type]
        gws.append(g)
        return g.start(listener_port)

    yield start
    for g in gws:
        g.stop()
