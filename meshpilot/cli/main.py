"""`meshpilot` — serve, translate, bootstrap."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

import yaml

from meshpilot import __version__


class UsageError(Exception):
    """A user mistake on the command line: printed as one line, exit code 2."""


def _labels(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or not k:
            raise UsageError(f"--label expects KEY=VALUE, got {v!r}")
        out[k] = val
    return out


def cmd_serve(ns: argparse.Namespace) -> int:
    from meshpilot.app.serve import ControlPlane, load_hook, split_address
    from meshpilot.observe.log import configure
    from meshpilot.sources.files import ConfigDirError, DirectorySource

    configure(ns.log_level, json={"json": True, "console": False, "auto": None}[ns.log_format])
    try:
        split_address(ns.xds_address)
        split_address(ns.admin_address)
        source = DirectorySource(ns.config)
    except (ValueError, ConfigDirError) as exc:
        raise UsageError(str(exc)) from None
    hook = load_hook(ns.test_translation_hook) if ns.test_translation_hook else None
    try:
        asyncio.run(ControlPlane(source, hook).run(ns.xds_address, ns.admin_address))
    except OSError as exc:
        raise UsageError(f"cannot start: {exc}") from None
    return 0


def cmd_translate(ns: argparse.Namespace) -> int:
    from meshpilot.model.diagnostics import Severity
    from meshpilot.model.loader import ConfigLoader
    from meshpilot.model.proxy import ProxyIdError, parse_proxy
    from meshpilot.sources.files import ConfigDirError, DirectorySource
    from meshpilot.translator import translate_store
    from meshpilot.translator.render import plain_all

    try:
        source = DirectorySource(ns.config)
        proxy = parse_proxy(ns.node_id, {"LABELS": _labels(ns.label), "NAMESPACE": ns.namespace or ""}, ns.locality)
    except (ConfigDirError, ProxyIdError) as exc:
        raise UsageError(str(exc)) from None
    result = ConfigLoader().load(source.read())
    t = translate_store(result.store, proxy)
    doc = {
        "node_id": proxy.node_id,
        "listeners": plain_all(t.listeners),
        "routes": plain_all(t.routes),
        "clusters": plain_all(t.clusters),
        "endpoints": plain_all(t.endpoints),
        "secrets": plain_all(t.secrets),  # private keys redacted
    }
    if ns.output == "json":
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        yaml.safe_dump(doc, sys.stdout, sort_keys=False, width=120)
    problems = [*result.rejected, *result.conflicts, *result.warnings, *t.diagnostics]
    for d in problems:
        print(f"{getattr(d, 'severity', 'error')}: {d}", file=sys.stderr)
    errors = len(result.rejected) + sum(d.severity == Severity.ERROR for d in t.diagnostics)
    print(
        f"{len(t.listeners)} listeners, {len(t.routes)} routes, {len(t.clusters)} clusters, "
        f"{len(t.endpoints)} endpoints; {errors} errors, {len(problems) - errors} warnings",
        file=sys.stderr,
    )
    return 1 if errors else 0


def cmd_diff(ns: argparse.Namespace) -> int:
    import gc

    from meshpilot import diff

    def read_dir(path: str) -> dict[str, str | bytes]:
        from meshpilot.sources.files import ConfigDirError, DirectorySource

        try:
            return DirectorySource(path).read()
        except ConfigDirError as exc:
            raise diff.DiffInputError(str(exc)) from None

    if (ns.label or ns.namespace) and not ns.node_id:
        raise UsageError("--label and --namespace need --node-id")
    # Parsed snapshots are large acyclic trees: the cycle collector would only rescan them
    # (a fifth of the run time on large snapshots). Re-enabled last, once nothing allocates.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        specs: tuple[diff.ProxySpec, ...] = ()
        if ns.proxies:
            specs = diff.read_proxies_file(ns.proxies)
        elif ns.node_id:
            specs = (diff.ProxySpec(ns.node_id, _labels(ns.label), ns.namespace),)
        old, new = diff.load_sides(ns.old, ns.new, read_dir=read_dir, proxies=specs, timeout=ns.timeout)
        result = diff.compare(old, new)
        for warning in result.warnings:
            print(f"meshpilot diff: warning: {warning}", file=sys.stderr)
        if ns.output == "json":
            sys.stdout.write(diff.render_json(result))
        else:
            color = diff.want_color(ns.color, sys.stdout.isatty(), os.environ)
            sys.stdout.write(diff.render_text(result, color=color))
        return 1 if result.different else 0
    except diff.DiffInputError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if gc_was_enabled:
            gc.enable()


def cmd_bootstrap(ns: argparse.Namespace) -> int:
    from meshpilot.app.serve import split_address
    from meshpilot.model.proxy import ProxyIdError, parse_proxy
    from meshpilot.translator.bootstrap import bootstrap, node_id

    labels = _labels(ns.label)
    node = ns.node_id or node_id(ns.role, ns.ip, ns.pod or f"{ns.role}-1", ns.namespace)
    try:
        proxy = parse_proxy(node, {"LABELS": labels, "NAMESPACE": ns.namespace})
        host, port = split_address(ns.xds_address)
    except (ProxyIdError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    doc = bootstrap(
        node=node,
        cluster=ns.cluster or (labels.get("app") or proxy.pod),
        namespace=proxy.namespace,
        labels=labels,
        xds_host=host,
        xds_port=port,
        admin_port=ns.admin_port,
        locality=ns.locality,
    )
    text = json.dumps(doc, indent=2) + "\n" if ns.output == "json" else yaml.safe_dump(doc, sort_keys=False)
    if ns.file:
        with open(ns.file, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_status(ns: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    url = ns.server.rstrip("/") + "/debug/syncz"
    try:
        with urllib.request.urlopen(url, timeout=ns.timeout) as resp:
            rows = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"cannot read {url}: {exc}") from None
    if ns.output == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(render_status(rows))
    return 0


def render_status(rows: list[dict[str, object]]) -> str:
    """A table like `istioctl proxy-status`: one row per proxy, status per xDS type."""
    if not rows:
        return "no proxies connected"
    types = ("CDS", "EDS", "LDS", "RDS", "SDS")
    header = ["NODE", *types, "LAST ACK", "CONNECTED"]
    table = [header]
    errors = []
    for row in rows:
        per_type = row["types"]
        assert isinstance(per_type, dict)
        acks = [t["since_ack_seconds"] for t in per_type.values() if t["since_ack_seconds"] is not None]
        table.append(
            [
                str(row["node_id"]),
                *(str(per_type[t]["status"]) for t in types),
                f"{min(acks):.0f}s ago" if acks else "never",
                f"{row['connected_seconds']:.0f}s",
            ]
        )
        errors += [f"{row['node_id']} {t}: {per_type[t]['error']}" for t in types if per_type[t]["error"]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if errors:
        lines += ["", "Rejected by the proxy (NACK):", *(f"  {e}" for e in errors)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meshpilot",
        description="An xDS control plane for Envoy that speaks Istio's traffic API.",
    )
    p.add_argument("--version", action="version", version=f"meshpilot {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "serve",
        help="serve config from a directory of YAML to Envoy proxies over ADS",
        description="Load Istio-style YAML from --config, serve it to Envoy over ADS (gRPC), "
        "reload on change, and expose /metrics, /ready and /debug/* on the admin address.",
    )
    s.add_argument("--config", required=True, metavar="DIR", help="directory of YAML files (read recursively)")
    s.add_argument(
        "--xds-address",
        default="127.0.0.1:15010",
        metavar="HOST:PORT",
        help="ADS gRPC address (default %(default)s)",
    )
    s.add_argument(
        "--admin-address",
        default="127.0.0.1:15014",
        metavar="HOST:PORT",
        help="admin HTTP address (default %(default)s)",
    )
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "console"],
        help="auto: JSON unless stdout is a terminal",
    )
    s.add_argument("--test-translation-hook", default="", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)

    t = sub.add_parser(
        "translate",
        help="print the Envoy resources one proxy would get (offline)",
        description="Translate a config directory for one proxy and print its listeners, routes, "
        "clusters and endpoints. Diagnostics go to stderr; exit code 1 if there are errors.",
    )
    t.add_argument("--config", required=True, metavar="DIR")
    t.add_argument(
        "--node-id",
        required=True,
        help="Istio-style node id, e.g. router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local",
    )
    t.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="proxy label (repeatable)")
    t.add_argument("--namespace", default="", help="proxy namespace (default: from the node id)")
    t.add_argument("--locality", default="", metavar="REGION/ZONE/SUBZONE", help="proxy locality (for locality LB)")
    t.add_argument("-o", "--output", default="yaml", choices=["yaml", "json"])
    t.set_defaults(func=cmd_translate)

    d = sub.add_parser(
        "diff",
        help="compare two snapshots of Envoy config, per proxy, field by field",
        description="Compare OLD and NEW per proxy and xDS type (listeners, routes, clusters, endpoints): "
        "resources added, removed and changed, with the changed fields and the objects they come from. "
        "Each side is a config directory (translated offline), a saved `meshpilot translate -o json` "
        "snapshot, an Envoy /config_dump or meshpilot /debug/config_dump file, an Envoy admin URL "
        "(http://HOST:PORT) or a meshpilot admin URL (http://HOST:PORT/debug/config_dump?node=ID). "
        "Exit code 0: equal, 1: different, 2: error.",
    )
    d.add_argument("old", metavar="OLD", help="directory, file, - (stdin) or URL")
    d.add_argument("new", metavar="NEW", help="directory, file, - (stdin) or URL")
    who = d.add_mutually_exclusive_group()
    who.add_argument(
        "--node-id",
        default="",
        help="translate config directories for this proxy (default: the proxies of an Envoy config dump "
        "on the other side, else one gateway proxy per Gateway selector)",
    )
    who.add_argument(
        "--proxies", default="", metavar="FILE", help="YAML list of {node_id, labels, namespace} to translate for"
    )
    d.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="label of --node-id (repeatable)")
    d.add_argument("--namespace", default="", help="namespace of --node-id (default: from the node id)")
    d.add_argument("-o", "--output", default="text", choices=["text", "json"])
    d.add_argument("--color", default="auto", choices=["auto", "always", "never"], help="default: on a terminal")
    d.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an admin URL (default 10)")
    d.set_defaults(func=cmd_diff)

    st = sub.add_parser(
        "status",
        help="show every connected proxy and whether it has the latest config",
        description="Ask a running meshpilot (its admin address) for each connected proxy's sync "
        "status per xDS type: SYNCED (ACKed the latest), STALE (sent, not ACKed yet, or newer config "
        "not sent yet), NOT SENT, NACKED (rejected; the error is printed under the table).",
    )
    st.add_argument("--server", default="http://127.0.0.1:15014", help="meshpilot admin URL (default %(default)s)")
    st.add_argument("-o", "--output", default="table", choices=["table", "json"])
    st.add_argument("--timeout", type=float, default=5.0, help=argparse.SUPPRESS)
    st.set_defaults(func=cmd_status)

    b = sub.add_parser(
        "bootstrap",
        help="print an Envoy bootstrap that connects a proxy to meshpilot",
        description="Print an Envoy bootstrap (YAML or JSON) with the node identity, labels and "
        "namespace meshpilot uses to pick the proxy's config, and an ADS connection to meshpilot.",
    )
    b.add_argument(
        "--node-id",
        default="",
        help="full node id (default: built from --role, --ip, --pod, --namespace)",
    )
    b.add_argument("--role", default="router", choices=["router", "sidecar"])
    b.add_argument("--ip", default="127.0.0.1")
    b.add_argument("--pod", default="", help="pod or instance name (default: ROLE-1)")
    b.add_argument("--namespace", default="default")
    b.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="proxy label (repeatable)")
    b.add_argument("--cluster", default="", help="Envoy service cluster name (default: label app or pod)")
    b.add_argument("--xds-address", default="127.0.0.1:15010", metavar="HOST:PORT")
    b.add_argument("--admin-port", type=int, default=15000)
    b.add_argument(
        "--locality", default="", metavar="REGION/ZONE/SUBZONE", help="the proxy's locality (for locality LB)"
    )
    b.add_argument("-o", "--output", default="yaml", choices=["yaml", "json"])
    b.add_argument("--file", default="", help="write to this file instead of stdout")
    b.set_defaults(func=cmd_bootstrap)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        code: int = ns.func(ns)
    except UsageError as exc:
        print(f"meshpilot {ns.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `meshpilot translate ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
