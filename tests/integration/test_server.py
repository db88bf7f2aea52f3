"""The ADS server shell over real gRPC on loopback (in-process client)."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator, Callable

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2
from google.protobuf.internal import api_implementation

from meshpilot.model.loader import ConfigLoader
from meshpilot.testing.echo import EchoServer
from meshpilot.testing.envoy import http_get, wait_for
from meshpilot.xds.cache import SnapshotCache
from meshpilot.xds.server import XdsServer, start_grpc
from tests.integration.harness import Gateway, MeshpilotProcess, free_port, write
from tests.integration.test_gateway_e2e import setup

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "config"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
NODE = "router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local"


def test_protobuf_uses_the_upb_backend() -> None:
    assert api_implementation.Type() == "upb"


async def _one_exchange(address: str, node_id: str) -> discovery_pb2.DiscoveryResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)

        async def requests() -> AsyncIterator[discovery_pb2.DiscoveryRequest]:
            req = discovery_pb2.DiscoveryRequest(type_url=CDS)
            req.node.id = node_id
            labels = struct_pb2.Struct()
            labels.update({"LABELS": {"istio": "ingressgateway"}})
            req.node.metadata.CopyFrom(labels)
            yield req
            await asyncio.sleep(5)

        call = stub.StreamAggregatedResources(requests())
        async for resp in call:
            call.cancel()
            return resp
        raise AssertionError("stream ended without a response")


async def _serve(cache: SnapshotCache) -> tuple[grpc.aio.Server, str]:
    address = f"127.0.0.1:{free_port()}"
    return await start_grpc(XdsServer(cache), address), address


def test_streams_are_refused_until_the_first_config_is_loaded() -> None:
    async def scenario() -> None:
        cache = SnapshotCache()
        server, address = await _serve(cache)
        try:
            try:
                await _one_exchange(address, NODE)
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.UNAVAILABLE
                assert "has not loaded its first config" in (err.details() or "")
            else:
                raise AssertionError("stream accepted before config was loaded")
            cache.set_store(ConfigLoader().load({p.name: p.read_text() for p in EXAMPLES.glob("*.yaml")}).store)
            resp = await _one_exchange(address, NODE)
            assert resp.type_url == CDS and len(resp.resources) == 5
        finally:
            await server.stop(None)

    asyncio.run(scenario())


def test_malformed_node_id_is_refused_with_a_reason() -> None:
    async def scenario() -> None:
        cache = SnapshotCache()
        cache.set_store(ConfigLoader().load({}).store)
        server, address = await _serve(cache)
        try:
            await _one_exchange(address, "just-a-name")
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "TYPE~IP~POD.NAMESPACE~DOMAIN" in (err.details() or "")
        else:
            raise AssertionError("malformed node id accepted")
        finally:
            await server.stop(None)

    asyncio.run(scenario())


def test_debug_config_dump_is_what_envoy_has(
    tmp_path: pathlib.Path,
    echo: Callable[[str], EchoServer],
    meshpilot: Callable[..., MeshpilotProcess],
    gateway: Callable[..., Gateway],
) -> None:
    cfg, port, _ = setup(tmp_path, echo)
    mp = meshpilot(cfg)
    gw = gateway(mp.xds_port, port)
    status, _, body = http_get(f"{mp.admin}/debug/config_dump?node={gw.node_id}")
    assert status == 200
    sent = json.loads(body)["resources"]
    envoy_clusters = {c["cluster"]["name"] for c in gw.envoy.config_dump("dynamic_active_clusters")["configs"]}
    assert {c["name"] for c in sent["CDS"]["resources"]} == envoy_clusters
    envoy_version = gw.envoy.config_dump("dynamic_active_clusters")["configs"][0]["version_info"]
    assert envoy_version == sent["CDS"]["version"]
    status, _, body = http_get(f"{mp.admin}/debug/config_dump?node=nobody")
    assert status == 404 and gw.node_id in json.loads(body)["connected"]
    status, _, body = http_get(f"{mp.admin}/metrics")
    assert b'meshpilot_xds_connected_proxies{proxy_type="router"} 1.0' in body


def test_a_broken_first_config_is_not_served_until_fixed(
    tmp_path: pathlib.Path, echo: Callable[[str], EchoServer], meshpilot: Callable[..., MeshpilotProcess]
) -> None:
    """Restarting meshpilot while every file is broken must not wipe the proxies: it stays not
    ready (streams refused) until something valid loads."""
    cfg, _, _ = setup(tmp_path, echo)
    good = {p.name: p.read_text() for p in cfg.glob("*.yaml")}
    for name in good:
        write(cfg / name, "kind: [unclosed")
    proc = meshpilot(cfg, wait_ready=False)
    proc.wait_event("serve.waiting")
    assert http_get(f"{proc.admin}/ready")[0] == 503

    async def refused() -> None:
        try:
            await _one_exchange(f"127.0.0.1:{proc.xds_port}", NODE)
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE
        else:
            raise AssertionError("a stream was served an empty config")

    asyncio.run(refused())
    for name, text in good.items():
        write(cfg / name, text)
    wait_for(lambda: http_get(f"{proc.admin}/ready")[0] == 200, 20, "ready once the config is fixed")
