"""A slow retranslation runs off the event loop: meshpilot keeps answering meanwhile."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable

from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import http_get, wait_for
from tests.integration.harness import Gateway, MeshpilotProcess, write
from tests.integration.test_gateway_e2e import setup

SLOW = """
apiVersion: v1
kind: Service
metadata: {name: slow, namespace: default}
spec: {ports: [{name: http, port: 80}]}
"""


def test_admin_and_streams_answer_during_a_slow_translation(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg, hook="tests.integration.hooks:slow_when_marked")
    gateway(mp.xds_port, port)
    published = len(mp.events("snapshot.published"))
    # The next translation takes 3 s (the hook sleeps while a service named `slow` exists).
    write(cfg / "slow.yaml", SLOW)
    time.sleep(1.0)  # the watcher noticed the change (100 ms poll + 100 ms quiet); the worker translates
    start = time.monotonic()
    status, _, _ = http_get(f"{mp.admin}/debug/syncz", timeout=5)
    assert status == 200 and time.monotonic() - start < 1.0  # not stuck behind the translation
    assert len(mp.events("snapshot.published")) == published  # still translating
    wait_for(lambda: len(mp.events("snapshot.published")) > published, 20, "the slow translation published")
