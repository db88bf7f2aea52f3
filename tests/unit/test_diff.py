"""`meshpilot diff`: sides, pairing, attribution, output shapes and exit codes (in process)."""

from __future__ import annotations

import copy
import http.server
import io
import json
import pathlib
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from meshpilot.cli.main import main
from meshpilot.diff import compare, load_sides, want_color
from tests.unit.test_diff_normalize import GW, as_envoy_dumps, translated

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "config"
GW2 = "router~10.0.0.2~gw-2.istio-system~istio-system.svc.cluster.local"
CANARY = "virtual_hosts[0].routes[1].route.weighted_clusters.clusters[0].weight"


def write(path: pathlib.Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: pathlib.Path) -> pathlib.Path:
    cfg = tmp_path / "config"
    shutil.copytree(EXAMPLES, cfg)
    return cfg


def edit(cfg: pathlib.Path, old: str, new: str) -> None:
    routing = cfg / "echo-routing.yaml"
    text = routing.read_text()
    assert old in text
    routing.write_text(text.replace(old, new))


def test_equal_snapshots_exit_zero(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", translated())
    code, out, err = run(capsys, a, a)
    assert (code, out, err) == (0, "1 proxy: 0 changed\n", "")


def test_changed_added_removed_and_the_summary_line(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = translated()
    other = {**copy.deepcopy(snap), "node_id": GW2}
    new = copy.deepcopy(snap)
    canary = new["routes"][0]["virtual_hosts"][0]["routes"][1]
    canary["route"]["weighted_clusters"]["clusters"][0]["weight"] = 70
    canary["route"]["weighted_clusters"]["clusters"][1]["weight"] = 30
    extra = copy.deepcopy(new["clusters"][-1])
    extra["name"] = "outbound|80|v9|echo.default.svc.cluster.local"
    new["clusters"].append(extra)
    new["endpoints"][0]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] = 1
    a = write(tmp_path / "a.json", [snap, other])
    b = write(tmp_path / "b.json", [new, other])
    code, out, _ = run(capsys, a, b)
    assert code == 1
    assert out.splitlines()[-1] == "2 proxies: 1 changed (3 resources: +1 -0 ~2)"
    assert f"proxy {GW}\n" in out and f"proxy {GW2}" not in out  # equal proxies are not listed
    assert f"~ {CANARY}: 80 -> 70" in out
    assert "+ outbound|80|v9|echo.default.svc.cluster.local  [" in out
    assert "VirtualService default/echo" in out


def test_json_output_shape(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = translated()
    new = copy.deepcopy(snap)
    new["routes"][0]["virtual_hosts"][0]["routes"][1]["route"]["weighted_clusters"]["clusters"][0]["weight"] = 70
    removed = new["clusters"].pop(0)
    code, out, _ = run(capsys, write(tmp_path / "a.json", snap), write(tmp_path / "b.json", new), "-o", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["equal"] is False
    assert doc["old"] == {"source": str(tmp_path / "a.json"), "kind": "snapshot"}
    assert doc["summary"] == {
        "proxies": 1,
        "changed": 1,
        "resources": {"added": 0, "removed": 1, "changed": 1},
        "text": "1 proxy: 1 changed (2 resources: +0 -1 ~1)",
    }
    [proxy] = doc["proxies"]
    assert proxy["node_id"] == proxy["old_node_id"] == proxy["new_node_id"] == GW
    assert proxy["status"] == "changed" and proxy["not_compared"] == []
    assert list(proxy["types"]) == ["listeners", "routes", "clusters", "endpoints"]
    assert proxy["types"]["listeners"] == {"added": [], "removed": [], "changed": []}
    assert proxy["types"]["clusters"]["removed"] == [
        {"name": removed["name"], "sources": ["VirtualService default/echo"]}
    ]
    [route] = proxy["types"]["routes"]["changed"]
    assert route == {
        "name": "http.8080",
        "sources": ["VirtualService default/echo"],
        "changes": [
            {"op": "changed", "path": CANARY, "old": 80, "new": 70, "sources": ["VirtualService default/echo"]}
        ],
    }
    assert doc["warnings"] == []


def test_endpoints_are_attributed_through_their_cluster(tmp_path: pathlib.Path) -> None:
    snap = translated()
    new = copy.deepcopy(snap)
    cla = next(e for e in new["endpoints"] if e["cluster_name"] == "outbound|80|v1|echo.default.svc.cluster.local")
    cla["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] = 1
    gone = new["endpoints"].pop()
    old_side, new_side = load_sides(
        write(tmp_path / "a.json", snap), write(tmp_path / "b.json", new), read_dir=lambda p: {}
    )
    by_name = {r.name: r for r in compare(old_side, new_side).proxies[0].resources}
    changed = by_name[cla["cluster_name"]]
    assert changed.sources == ("DestinationRule default/echo", "Service default/echo")
    assert changed.changes[0].sources == changed.sources
    assert by_name[gone["cluster_name"]].status == "removed"
    assert by_name[gone["cluster_name"]].sources  # from the old side's cluster


def test_config_dir_against_saved_translate_output(
    tmp_path: pathlib.Path, config: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = write(tmp_path / "old.json", translated())
    args = ("--node-id", GW, "--label", "istio=ingressgateway")
    assert run(capsys, saved, str(config), *args)[0] == 0
    edit(config, "weight: 80", "weight: 70")
    edit(config, "weight: 20", "weight: 30")
    code, out, _ = run(capsys, saved, str(config), *args)
    assert code == 1
    assert f"~ {CANARY}: 80 -> 70" in out
    assert "~ http.8080  [VirtualService default/echo]" in out
    # Without --node-id: one gateway proxy per Gateway selector, paired with the only proxy of OLD.
    code, out, _ = run(capsys, saved, str(config))
    assert code == 1 and f"~ {CANARY}: 80 -> 70" in out
    assert "router~0.0.0.0~istio-ingressgateway.istio-system~istio-system.svc.cluster.local (NEW)" in out


def test_two_config_dirs_use_the_gateways_of_both(
    tmp_path: pathlib.Path, config: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "new"
    shutil.copytree(config, new)
    (new / "egress.yaml").write_text(
        (config / "gateway.yaml")
        .read_text()
        .replace("name: ingress", "name: egress")
        .replace("istio: ingressgateway", "istio: egressgateway")
        .replace("number: 8080", "number: 9090")
    )
    code, out, _ = run(capsys, str(config), str(new))
    assert code == 1
    egress = "router~0.0.0.0~istio-egressgateway.istio-system~istio-system.svc.cluster.local"
    assert f"proxy {egress}\n  listeners\n    + 0.0.0.0_9090  [Gateway istio-system/egress]" in out
    assert out.splitlines()[-1] == "2 proxies: 1 changed (2 resources: +2 -0 ~0)"


def test_proxies_file(tmp_path: pathlib.Path, config: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    proxies = tmp_path / "proxies.yaml"
    proxies.write_text(
        f"- {{node_id: '{GW}', labels: {{istio: ingressgateway}}}}\n"
        f"- {{node_id: '{GW2}', labels: {{app: other}}, namespace: istio-system}}\n"
    )
    saved = write(tmp_path / "old.json", [translated(), {"node_id": GW2, "listeners": [], "routes": []}])
    code, out, err = run(capsys, saved, str(config), "--proxies", str(proxies))
    # GW2 has no gateway: no listeners or routes; clusters and endpoints are not in the file
    assert (code, err.count("not compared")) == (0, 2), (out, err)
    assert out == "2 proxies: 0 changed\n"


def test_config_dir_is_translated_for_the_node_of_an_envoy_dump(
    tmp_path: pathlib.Path, config: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = write(tmp_path / "dump.json", as_envoy_dumps(translated()))
    assert run(capsys, dump, str(config)) == (0, "1 proxy: 0 changed\n", "")
    edit(config, "{x-version: {exact: v2}}", "{x-version: {exact: v9}}")
    code, out, _ = run(capsys, dump, str(config), "--color", "always")
    assert code == 1
    assert "\033[1mproxy " + GW + "\033[0m" in out  # same node: the dump's identity was used
    assert '\033[33m~ virtual_hosts[0].routes[0].match.headers[0].string_match.exact: "v2" -> "v9"\033[0m' in out


def test_rejected_documents_are_warnings(config: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(config, "weight: 80", "weight: eighty")
    code, out, err = run(capsys, str(EXAMPLES), str(config))
    assert code == 1
    assert "meshpilot diff: warning: NEW " in err and 'expected integer, got string "eighty"' in err
    assert "- http.8080" not in out and "~ http.8080" in out  # the VirtualService is gone from NEW


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope.json", "{examples}"), "OLD: nope.json: no such file, directory or URL"),
        (("{bad}", "{examples}"), "not valid JSON: Expecting"),
        (("{notsnap}", "{examples}"), "is not a snapshot (`meshpilot translate -o json`)"),
        (("-", "-"), "only one of OLD and NEW can be - (stdin)"),
        (("{examples}", "{examples}", "--label", "a=b"), "--label and --namespace need --node-id"),
        (("{examples}", "{examples}", "--node-id", "gw"), "is not of the form TYPE~IP~POD.NAMESPACE~DOMAIN"),
        (("{examples}", "{examples}", "--node-id", GW, "--label", "x"), "--label expects KEY=VALUE"),
        (("{examples}", "{examples}", "--proxies", "{bad}"), "--proxies {bad}: not valid YAML"),
        (("{examples}", "{examples}", "--proxies", "{snap}"), "--proxies {snap}: expected a non-empty list"),
        (("{examples}", "{examples}", "--proxies", "{proxies}"), "[0]: unknown field 'node'"),
        (("{snap}", "{snap}", "--node-id", GW), "--node-id and --proxies only apply to config directories"),
        (("{empty}", "{empty}"), "no Gateway in"),
        (("http://127.0.0.1:1", "{examples}"), "OLD http://127.0.0.1:1: cannot fetch"),
    ],
)
def test_user_errors_exit_two_with_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "notsnap.json").write_text('{"kind": "Deployment"}')
    (tmp_path / "snap.json").write_text('{"node_id": "x", "clusters": []}')
    (tmp_path / "proxies.yaml").write_text("- {node: x}\n")
    (tmp_path / "empty").mkdir()
    names = {"examples": str(EXAMPLES), "empty": str(tmp_path / "empty")}
    names |= {n: str(tmp_path / f"{n}.json") for n in ("bad", "notsnap", "snap")}
    names["proxies"] = str(tmp_path / "proxies.yaml")
    code, out, err = run(capsys, *(a.format(**names) for a in args))
    assert code == 2 and out == ""
    assert err.startswith("meshpilot diff: error: ") and err.count("\n") == 1, err
    assert message.format(**names) in err


def test_color_modes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert want_color("auto", True, {}) and want_color("always", False, {})
    assert not want_color("auto", False, {}) and not want_color("never", True, {})
    assert not want_color("auto", True, {"NO_COLOR": "1"}) and not want_color("auto", True, {"TERM": "dumb"})
    snap = translated()
    new = {**snap, "clusters": snap["clusters"][1:]}
    a, b = write(tmp_path / "a.json", snap), write(tmp_path / "b.json", new)
    assert "\033[" not in run(capsys, a, b)[1]  # not a terminal: auto means no colour
    assert "\033[31m- " in run(capsys, a, b, "--color", "always")[1]


# --- URLs: a stand-in admin server -------------------------------------------------------------


class Admin(http.server.ThreadingHTTPServer):
    routes: dict[str, tuple[int, Any]]
    seen: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Admin

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        status, body = self.server.routes.get(self.path, (404, {"error": "no such path", "paths": []}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def admin() -> Iterator[Admin]:
    server = Admin(("127.0.0.1", 0), _Handler)
    server.routes, server.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: Admin, path: str = "") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_envoy_admin_url_fetches_config_dump_with_eds(
    admin: Admin, config: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin.routes["/config_dump?include_eds"] = (200, as_envoy_dumps(translated()))
    assert run(capsys, url(admin), str(config)) == (0, "1 proxy: 0 changed\n", "")
    assert admin.seen == ["/config_dump?include_eds"]


def test_meshpilot_admin_url_needs_a_node_and_names_the_connected_ones(
    admin: Admin, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {"error": "missing ?node=<node id>", "connected": [GW]}
    admin.routes["/debug/config_dump"] = (400, missing)
    code, _, err = run(capsys, url(admin, "/debug/config_dump"), url(admin, "/debug/config_dump"))
    assert code == 2
    assert f"answered HTTP 400: missing ?node=<node id> (connected: {GW})" in err
    # A bare meshpilot admin address is recognised and the right URL suggested.
    admin.routes["/config_dump?include_eds"] = (404, {"error": "no such path", "paths": ["/debug/config_dump?node=ID"]})
    code, _, err = run(capsys, url(admin), url(admin))
    assert code == 2 and f"use {url(admin)}/debug/config_dump?node=ID" in err


def test_meshpilot_admin_url_with_node_from_the_url_or_the_option(
    admin: Admin, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = translated()
    cds = [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", **c} for c in snap["clusters"]]
    dump = {"node_id": GW, "resources": {"CDS": {"version": "1", "resources": cds}}}
    admin.routes["/debug/config_dump?" + urllib.parse.urlencode({"node": GW})] = (200, dump)
    saved = write(tmp_path / "clusters.json", {"node_id": GW, "clusters": snap["clusters"]})
    code, out, err = run(capsys, url(admin, f"/debug/config_dump?node={GW}"), saved)
    assert (code, out) == (0, "1 proxy: 0 changed\n")
    assert "warning: listeners of " + GW + " not compared: OLD http" in err  # the dump had clusters only
    assert run(capsys, url(admin, "/debug/config_dump"), saved, "--node-id", GW)[:2] == (0, out)
    code, _, err = run(capsys, url(admin, "/debug/config_dump?node=nobody"), saved)
    assert code == 2 and "answered HTTP 404: no such path" in err


def test_yaml_snapshots_and_stdin(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = translated()
    saved_yaml = tmp_path / "a.yaml"
    saved_yaml.write_text(yaml.safe_dump(snap, sort_keys=False))  # `meshpilot translate -o yaml`
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(snap)))
    assert run(capsys, str(saved_yaml), "-") == (0, "1 proxy: 0 changed\n", "")


def test_text_lines_for_moves_additions_and_long_values(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = translated()
    new = copy.deepcopy(snap)
    routes = new["routes"][0]["virtual_hosts"][0]["routes"]
    routes[0], routes[1] = routes[1], routes[0]  # first match wins: order matters
    extra = copy.deepcopy(routes[-1])
    extra["name"] = "extra"
    extra["metadata"]["filter_metadata"]["meshpilot"]["sources"] = ["VirtualService default/other"]
    routes.insert(2, extra)
    code, out, _ = run(capsys, write(tmp_path / "a.json", snap), write(tmp_path / "b.json", new))
    assert code == 1
    lines = out.splitlines()
    assert "    ~ http.8080  [VirtualService default/echo, VirtualService default/other]" in lines
    assert "        ~ virtual_hosts[0].routes[0]: moved from position 1 to 0  [VirtualService default/echo]" in lines
    assert (
        '        + virtual_hosts[0].routes[2]: {"name": "extra", …} (4 fields; -o json shows all)'
        "  [VirtualService default/other]"
    ) in lines
