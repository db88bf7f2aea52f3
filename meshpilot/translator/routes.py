"""VirtualService HTTP routes -> Envoy routes (shared by gateways and, later, sidecars).

Istio's rules implemented here, from pilot/pkg/networking/core/route:
- each HTTPMatchRequest becomes one Envoy route; a route without match catches `/`;
- `method`, `authority` and `scheme` match the `:method`, `:authority`, `:scheme` headers;
- an empty `prefix` on a header means "present";
- the route timeout defaults to 0s (disabled), and the retry policy to istiod's default
  (2 attempts on connect-failure, refused-stream, unavailable, cancelled, 503);
- a single destination's weight is ignored; destinations with weight 0 are dropped.
"""

from __future__ import annotations

import dataclasses

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2
from envoy.extensions.retry.priority.previous_priorities.v3 import (
    previous_priorities_config_pb2 as previous_priorities_pb2,
)
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import wrappers_pb2

from meshpilot.api.networking.v1 import common_pb2
from meshpilot.api.networking.v1 import virtual_service_pb2 as vs_pb2
from meshpilot.model.diagnostics import Diagnostic, Severity
from meshpilot.model.objects import ConfigKey, ConfigObject
from meshpilot.model.proxy import Proxy
from meshpilot.model.registry import resolve_short_name
from meshpilot.translator import naming
from meshpilot.translator.context import MeshContext
from meshpilot.translator.delegate import merged_routes
from meshpilot.translator.envoy import attribution, duration, to_any
from meshpilot.translator.http_policies import apply_fault_and_cors, mirror_policy
from meshpilot.translator.policy import hash_policies, same_hash_policies

DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
_REDIRECT_CODES = {
    301: rc.RedirectAction.MOVED_PERMANENTLY,
    302: rc.RedirectAction.FOUND,
    303: rc.RedirectAction.SEE_OTHER,
    307: rc.RedirectAction.TEMPORARY_REDIRECT,
    308: rc.RedirectAction.PERMANENT_REDIRECT,
}
_UNSUPPORTED: dict[str, str] = {}


def string_matcher(m: common_pb2.StringMatch, *, ignore_case: bool = False) -> string_pb2.StringMatcher:
    which = m.WhichOneof("match_type")
    if which == "exact":
        return string_pb2.StringMatcher(exact=m.exact, ignore_case=ignore_case)
    if which == "prefix":
        return string_pb2.StringMatcher(prefix=m.prefix, ignore_case=ignore_case)
    return string_pb2.StringMatcher(safe_regex=regex_pb2.RegexMatcher(regex=m.regex))


def header_matcher(name: str, m: common_pb2.StringMatch, *, invert: bool = False) -> rc.HeaderMatcher:
    if m.WhichOneof("match_type") == "prefix" and not m.prefix:
        return rc.HeaderMatcher(name=name, present_match=True, invert_match=invert)
    return rc.HeaderMatcher(name=name, string_match=string_matcher(m), invert_match=invert)


def route_match(m: vs_pb2.HTTPMatchRequest | None) -> rc.RouteMatch:
    out = rc.RouteMatch()
    if m is None or not m.HasField("uri"):
        out.prefix = "/"
    else:
        which = m.uri.WhichOneof("match_type")
        if which == "exact":
            out.path = m.uri.exact
        elif which == "prefix":
            out.prefix = m.uri.prefix
        else:
            out.safe_regex.regex = m.uri.regex
    if m is None:
        return out
    if m.ignore_uri_case:
        out.case_sensitive.value = False
    for field, header in (
        ("method", ":method"),
        ("authority", ":authority"),
        ("scheme", ":scheme"),
    ):
        if m.HasField(field):
            out.headers.append(header_matcher(header, getattr(m, field)))
    for name, sm in sorted(m.headers.items()):
        out.headers.append(header_matcher(name, sm))
    for name, sm in sorted(m.without_headers.items()):
        out.headers.append(header_matcher(name, sm, invert=True))
    for name, sm in sorted(m.query_params.items()):
        if sm.WhichOneof("match_type") == "prefix" and not sm.prefix:
            out.query_parameters.add(name=name, present_match=True)  # as for headers
        else:
            out.query_parameters.add(name=name, string_match=string_matcher(sm))
    return out


AUTHORITY_HEADERS = ("host", ":authority")


def _header_ops(
    ops: vs_pb2.Headers.HeaderOperations,
) -> tuple[list[base_pb2.HeaderValueOption], list[str]]:
    add: list[base_pb2.HeaderValueOption] = []
    for name, value in sorted(ops.set.items()):
        if name.lower() in AUTHORITY_HEADERS:
            continue  # Envoy cannot set these as headers: see apply_headers (host rewrite)
        add.append(
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key=name, value=value),
                append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
            )
        )
    for name, value in sorted(ops.add.items()):
        add.append(
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key=name, value=value),
                append_action=base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD,
            )
        )
    return add, list(ops.remove)


def apply_headers(target: rc.Route | rc.WeightedCluster.ClusterWeight, headers: vs_pb2.Headers) -> str:
    """Header operations onto a route or weighted cluster; returns an authority to rewrite to.

    As istiod: setting `host`/`:authority` on the request becomes a host rewrite, since Envoy
    refuses to modify those headers directly.
    """
    add, remove = _header_ops(headers.request)
    target.request_headers_to_add.extend(add)
    target.request_headers_to_remove.extend(remove)
    add, remove = _header_ops(headers.response)
    target.response_headers_to_add.extend(add)
    target.response_headers_to_remove.extend(remove)
    return next((v for k, v in sorted(headers.request.set.items()) if k.lower() in AUTHORITY_HEADERS), "")


def default_retry_policy() -> rc.RetryPolicy:
    """A fresh copy of istiod's default retry policy (callers may change it)."""
    out = rc.RetryPolicy()
    out.CopyFrom(_DEFAULT_RETRY_POLICY)
    return out


def _build_default_retry_policy() -> rc.RetryPolicy:
    return rc.RetryPolicy(
        retry_on=DEFAULT_RETRY_ON,
        num_retries=wrappers_pb2.UInt32Value(value=2),
        retriable_status_codes=[503],
        retry_host_predicate=[
            rc.RetryPolicy.RetryHostPredicate(
                name="envoy.retry_host_predicates.previous_hosts",
                typed_config=to_any(previous_hosts_pb2.PreviousHostsPredicate()),
            )
        ],
        host_selection_retry_max_attempts=5,
    )


_DEFAULT_RETRY_POLICY = _build_default_retry_policy()


def retry_policy(r: vs_pb2.HTTPRetry | None) -> rc.RetryPolicy | None:
    if r is None:
        return default_retry_policy()
    if r.attempts == 0:
        return None
    policy = default_retry_policy()
    policy.num_retries.value = r.attempts
    if r.retry_on:
        tokens = [t.strip() for t in r.retry_on.split(",") if t.strip()]
        codes = [int(t) for t in tokens if t.isdigit()]
        names = [t for t in tokens if not t.isdigit()]
        if codes and "retriable-status-codes" not in names:
            names.append("retriable-status-codes")
        policy.retry_on = ",".join(names)
        del policy.retriable_status_codes[:]
        policy.retriable_status_codes.extend(codes)
    if r.HasField("per_try_timeout"):
        policy.per_try_timeout.CopyFrom(r.per_try_timeout)
    if r.retry_remote_localities.value:
        # istiod: prefer other localities (priorities) on retries.
        policy.retry_priority.name = "envoy.retry_priorities.previous_priorities"
        policy.retry_priority.typed_config.CopyFrom(
            to_any(previous_priorities_pb2.PreviousPrioritiesConfig(update_frequency=2))
        )
    return policy


@dataclasses.dataclass
class RouteBuilder:
    """Builds Envoy routes for one proxy; collects diagnostics and the fallback clusters needed."""

    ctx: MeshContext
    proxy: Proxy
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)
    # aggregate cluster name -> (children, sources)
    fallbacks: dict[str, tuple[list[str], set[str]]] = dataclasses.field(default_factory=dict)
    listener_port: int = 80

    def warn(self, vs: ConfigObject, path: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, str(vs.key), path, message, str(vs.source)))

    def cluster_for(self, vs: ConfigObject, d: vs_pb2.Destination, path: str) -> str:
        """istiod's GetDestinationCluster: the destination's port, else the service's only
        port, else the listener's port. Problems are warnings; the route stays (503)."""
        host = resolve_short_name(d.host, vs.namespace)
        svc = self.ctx.registry.get(host)
        port = d.port.number or self.listener_port
        if svc is None:
            self.warn(vs, f"{path}.host", f"route refers to host {host} with no service; requests get 503")
            return naming.outbound_cluster(port, d.subset, host)
        if d.port.number:
            if svc.port(port) is None:
                self.warn(vs, f"{path}.port.number", f"service {host} has no port {port}")
        elif len(svc.ports) == 1:
            port = svc.ports[0].number
        else:
            self.warn(
                vs,
                f"{path}.port",
                f"service {host} has several ports ({', '.join(str(p.number) for p in svc.ports)}) and "
                f"destination.port is not set; the listener port {port} is used",
            )
        if d.subset and d.subset not in {s.name for s in self.ctx.subsets(host, self.proxy.namespace)}:
            self.warn(vs, f"{path}.subset", f"no DestinationRule defines subset {d.subset!r} for {host}")
        return naming.outbound_cluster(port, d.subset, host)

    def hash_policy_for(self, cluster: str) -> list[rc.RouteAction.HashPolicy]:
        """consistentHash of the destination's DestinationRule, as route hash policies."""
        if cluster.startswith("fallback|"):
            cluster = "outbound|" + "|".join(cluster.split("|")[1:4])
        parsed = naming.parse_outbound_cluster(cluster)
        if parsed is None:
            return []
        port, subset, host = parsed
        return hash_policies(self.ctx.policy(host, subset, port, self.proxy.namespace))

    def destination_cluster(
        self,
        vs: ConfigObject,
        dest: vs_pb2.HTTPRouteDestination | vs_pb2.RouteDestination,
        path: str,
    ) -> str:
        primary = self.cluster_for(vs, dest.destination, f"{path}.destination")
        if not dest.HasField("fallback"):
            return primary
        target = self.cluster_for(vs, dest.fallback.target, f"{path}.fallback.target")
        if target == primary:
            return primary
        name = naming.fallback_cluster(primary, target)
        _, sources = self.fallbacks.setdefault(name, ([primary, target], set()))
        sources.add(str(vs.key))
        return name

    def http_routes(
        self, vs: ConfigObject, index: int, route: vs_pb2.HTTPRoute, *, port: int, gateway: str
    ) -> list[rc.Route]:
        """Envoy routes for `spec.http[index]`, for a listener on `port` of `gateway`."""
        p = f"spec.http[{index}]"
        self.listener_port = port
        if route.HasField("delegate"):
            return self._delegate(vs, index, route, port=port, gateway=gateway)
        for field, json_name in _UNSUPPORTED.items():
            present = bool(getattr(route, field)) if field == "mirrors" else route.HasField(field)
            if present:
                self.warn(vs, f"{p}.{json_name}", "not supported yet; ignored")
        action = self._action(vs, route, p)
        if action is None:
            return []
        out: list[rc.Route] = []
        matches: list[vs_pb2.HTTPMatchRequest | None] = list(route.match) or [None]
        for m in matches:
            if m is not None:
                if m.port and m.port != port:
                    continue
                if m.gateways and gateway not in {qualify_gateway(g, vs.namespace) for g in m.gateways}:
                    continue
                if any(self.proxy.labels.get(k) != v for k, v in m.source_labels.items()):
                    continue
                if m.source_namespace and m.source_namespace != self.proxy.namespace:
                    continue
            r = rc.Route(match=route_match(m), metadata=attribution([str(vs.key)], vs.key.ref))
            name = ".".join(x for x in (route.name, m.name if m else "") if x)
            if name:
                r.name = name
            r.MergeFrom(action)
            out.append(r)
        return out

    def _delegate(
        self, vs: ConfigObject, index: int, route: vs_pb2.HTTPRoute, *, port: int, gateway: str
    ) -> list[rc.Route]:
        p = f"spec.http[{index}].delegate"
        key = ConfigKey("VirtualService", route.delegate.namespace or vs.namespace, route.delegate.name)
        target = self.ctx.store.get(key)
        if target is None:
            self.warn(vs, p, f"delegate {key} does not exist; the route is dropped")
            return []
        spec = target.spec
        assert isinstance(spec, vs_pb2.VirtualService)
        if spec.hosts:
            self.warn(vs, p, f"{key} has hosts, so it is not a delegate; the route is dropped")
            return []
        routes, problems = merged_routes(route, spec)
        for problem in problems:
            self.warn(target, "spec.http", f"under {vs.key} {p}: {problem}")
        out: list[rc.Route] = []
        for j, merged in routes:
            if merged.HasField("delegate"):
                self.warn(target, f"spec.http[{j}].delegate", "only one level of delegation is supported; ignored")
                continue
            out.extend(self.http_routes(target, j, merged, port=port, gateway=gateway))
        return out

    def _mirrors(self, vs: ConfigObject, route: vs_pb2.HTTPRoute, ra: rc.RouteAction, p: str) -> None:
        """`mirror` + `mirrorPercentage` (default 100%) and `mirrors` (each with its own)."""
        if route.HasField("mirror"):
            cluster = self.cluster_for(vs, route.mirror, f"{p}.mirror")
            pct = route.mirror_percentage if route.HasField("mirror_percentage") else None
            ra.request_mirror_policies.append(mirror_policy(cluster, pct))
        for k, m in enumerate(route.mirrors):
            cluster = self.cluster_for(vs, m.destination, f"{p}.mirrors[{k}].destination")
            ra.request_mirror_policies.append(
                mirror_policy(cluster, m.percentage if m.HasField("percentage") else None)
            )

    def _action(self, vs: ConfigObject, route: vs_pb2.HTTPRoute, p: str) -> rc.Route | None:
        r = rc.Route()
        apply_fault_and_cors(r, route)
        authority = apply_headers(r, route.headers) if route.HasField("headers") else ""
        if route.HasField("redirect"):
            rd = route.redirect
            action = rc.RedirectAction(
                response_code=_REDIRECT_CODES.get(rd.redirect_code or 301, rc.RedirectAction.MOVED_PERMANENTLY)
            )
            if rd.uri:
                action.path_redirect = rd.uri
            if rd.authority:
                action.host_redirect = rd.authority
            if rd.scheme:
                action.scheme_redirect = rd.scheme
            if rd.WhichOneof("redirect_port") == "port":
                action.port_redirect = rd.port
            elif rd.WhichOneof("redirect_port") == "derive_port" and rd.derive_port == vs_pb2.FROM_REQUEST_PORT:
                action.port_redirect = self.listener_port
            r.redirect.CopyFrom(action)
            return r
        if route.HasField("direct_response"):
            dr = route.direct_response
            r.direct_response.status = dr.status
            body = dr.body
            if body.WhichOneof("specifier") == "string":
                r.direct_response.body.inline_string = body.string
            elif body.WhichOneof("specifier") == "bytes":
                r.direct_response.body.inline_bytes = body.bytes
            return r
        if not route.route:
            return None
        ra = r.route
        legs = [(j, d) for j, d in enumerate(route.route) if len(route.route) == 1 or d.weight > 0]
        if len(legs) == 1:
            j, d = legs[0]
            cluster = self.destination_cluster(vs, d, f"{p}.route[{j}]")
            ra.cluster = cluster
            ra.hash_policy.extend(self.hash_policy_for(cluster))
            if d.HasField("headers"):
                authority = apply_headers(r, d.headers) or authority
        else:
            for j, d in legs:
                cluster = self.destination_cluster(vs, d, f"{p}.route[{j}]")
                cw = ra.weighted_clusters.clusters.add(name=cluster)
                cw.weight.value = d.weight
                if d.HasField("headers"):
                    leg_authority = apply_headers(cw, d.headers)
                    if leg_authority:
                        cw.host_rewrite_literal = leg_authority
            ra.hash_policy.extend(
                same_hash_policies(self.hash_policy_for(w.name) for w in ra.weighted_clusters.clusters)
            )
        if route.HasField("rewrite"):
            rw = route.rewrite
            if rw.uri:
                ra.prefix_rewrite = rw.uri
            authority = rw.authority or authority
            if rw.HasField("uri_regex_rewrite"):
                ra.regex_rewrite.pattern.regex = rw.uri_regex_rewrite.match
                ra.regex_rewrite.substitution = rw.uri_regex_rewrite.rewrite
        if authority:
            ra.host_rewrite_literal = authority
        self._mirrors(vs, route, ra, p)
        ra.timeout.CopyFrom(route.timeout if route.HasField("timeout") else duration(0))
        policy = retry_policy(route.retries if route.HasField("retries") else None)
        if policy is not None:
            ra.retry_policy.CopyFrom(policy)
        return r


def qualify_gateway(gateway: str, namespace: str) -> str:
    """`name` in a VirtualService means the gateway `name` in the VirtualService's namespace."""
    return gateway if "/" in gateway or gateway == "mesh" else f"{namespace}/{gateway}"
