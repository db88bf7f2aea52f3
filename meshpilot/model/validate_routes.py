"""Validation of VirtualServices (HTTP, TCP and TLS routes), as Istio's pkg/config/validation."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

from meshpilot.api.networking.v1 import (
    virtual_service_pb2,
)
from meshpilot.model.decode import FieldError
from meshpilot.model.validate import (
    _DNS1123_LABEL,
    _DNS1123_SUBDOMAIN,
    _HEADER_NAME,
    _REDIRECT_CODES,
    Errors,
    _check_duration,
    _check_percent,
    _check_string_match,
    check_fqdn,
    check_labels,
    check_port,
    check_regex,
)

# ---------------------------------------------------------------------------- VirtualService


def _check_destination(d: virtual_service_pb2.Destination, path: str, errors: Errors, *, required: bool = True) -> None:
    if not d.host:
        if required:
            errors.append(FieldError(f"{path}.host", "required"))
    else:
        check_fqdn(d.host, f"{path}.host", errors, wildcard=False)
    if d.subset and not _DNS1123_LABEL.match(d.subset):
        errors.append(FieldError(f"{path}.subset", f"invalid subset name {d.subset!r}"))
    if d.HasField("port"):
        check_port(d.port.number, f"{path}.port.number", errors)


def _check_fallback(
    dest: virtual_service_pb2.RouteDestination | virtual_service_pb2.HTTPRouteDestination,
    path: str,
    errors: Errors,
) -> None:
    if not dest.HasField("fallback"):
        return
    fb = dest.fallback
    if not fb.HasField("target"):
        errors.append(FieldError(f"{path}.fallback.target", "required"))
        return
    _check_destination(fb.target, f"{path}.fallback.target", errors)
    t, d = fb.target, dest.destination
    if (t.host, t.subset, t.port.number) == (d.host, d.subset, d.port.number):
        errors.append(FieldError(f"{path}.fallback.target", "must differ from the destination it backs up"))


def _check_weights(dests: Iterable[Message], path: str, errors: Errors) -> None:
    dests = list(dests)
    total = 0
    for k, d in enumerate(dests):
        w = d.weight  # type: ignore[attr-defined]
        if w < 0:
            errors.append(FieldError(f"{path}[{k}].weight", f"weight {w} must not be negative"))
        total += max(w, 0)
    if len(dests) > 1 and total == 0:
        errors.append(FieldError(path, "the weights of several destinations must not all be zero"))


def _check_headers(h: virtual_service_pb2.Headers, path: str, errors: Errors) -> None:
    for side in ("request", "response"):
        ops = getattr(h, side)
        for op in ("set", "add", "remove"):
            for i, name in enumerate(getattr(ops, op)):
                where = f"{path}.{side}.{op}[{i}]" if op == "remove" else f"{path}.{side}.{op}.{name}"
                lower = name.lower()
                if not _HEADER_NAME.match(lower):
                    errors.append(FieldError(where, "invalid header name"))
                elif (lower == "host" or lower.startswith(":")) and not (
                    side == "request" and op == "set" and lower in ("host", ":authority")
                ):
                    errors.append(
                        FieldError(
                            where,
                            f"{name} cannot be modified (Envoy refuses it); "
                            "set request host or :authority, or use rewrite.authority",
                        )
                    )


def _check_match(m: virtual_service_pb2.HTTPMatchRequest, p: str, errors: Errors) -> None:
    for field in ("uri", "scheme", "method", "authority"):
        if m.HasField(field):
            _check_string_match(getattr(m, field), f"{p}.{field}", errors)
    for field in ("headers", "query_params", "without_headers"):
        json = {"query_params": "queryParams", "without_headers": "withoutHeaders"}.get(field, field)
        for name, sm in getattr(m, field).items():
            if field != "query_params" and name != name.lower():
                errors.append(FieldError(f"{p}.{json}.{name}", "header names must be lowercase"))
            _check_string_match(sm, f"{p}.{json}.{name}", errors)
    if m.port:
        check_port(m.port, f"{p}.port", errors)


def validate_virtual_service(spec: virtual_service_pb2.VirtualService) -> Errors:
    errors: Errors = []
    # A VirtualService without hosts is a delegate: other VirtualServices include its routes.
    if not spec.hosts and spec.gateways:
        errors.append(
            FieldError("spec.gateways", "a VirtualService without hosts is a delegate and cannot set gateways")
        )
    for i, host in enumerate(spec.hosts):
        check_fqdn(host, f"spec.hosts[{i}]", errors)
    for i, gw in enumerate(spec.gateways):
        ns, _, name = gw.rpartition("/")
        if gw != "mesh" and (not _DNS1123_SUBDOMAIN.match(name) or (ns and not _DNS1123_LABEL.match(ns))):
            errors.append(FieldError(f"spec.gateways[{i}]", f"invalid gateway reference {gw!r}"))
    if not (spec.http or spec.tcp or spec.tls):
        errors.append(FieldError("spec", "at least one of http, tcp or tls routes is required"))
    route_names: dict[str, int] = {}
    for i, route in enumerate(spec.http):
        p = f"spec.http[{i}]"
        if route.name:
            if route.name in route_names:
                errors.append(
                    FieldError(
                        f"{p}.name",
                        f"duplicate route name {route.name!r} (also spec.http[{route_names[route.name]}])",
                    )
                )
            route_names.setdefault(route.name, i)
        actions = [
            f
            for f in ("route", "redirect", "direct_response", "delegate")
            if (route.route if f == "route" else route.HasField(f))
        ]
        if len(actions) != 1:
            errors.append(
                FieldError(
                    p,
                    "exactly one of route, redirect, directResponse, delegate is required"
                    + (f" (got {', '.join(actions)})" if actions else ""),
                )
            )
        for j, m in enumerate(route.match):
            _check_match(m, f"{p}.match[{j}]", errors)
        if route.HasField("delegate") and not route.delegate.name:
            errors.append(FieldError(f"{p}.delegate.name", "required"))
        for j, dest in enumerate(route.route):
            dp = f"{p}.route[{j}]"
            if not dest.HasField("destination"):
                errors.append(FieldError(f"{dp}.destination", "required"))
            else:
                _check_destination(dest.destination, f"{dp}.destination", errors)
            _check_fallback(dest, dp, errors)
            if dest.HasField("headers"):
                _check_headers(dest.headers, f"{dp}.headers", errors)
        _check_weights(route.route, f"{p}.route", errors)
        if route.HasField("redirect"):
            code = route.redirect.redirect_code
            if code and code not in _REDIRECT_CODES:
                errors.append(
                    FieldError(
                        f"{p}.redirect.redirectCode",
                        f"redirect code {code} is not one of {sorted(_REDIRECT_CODES)}",
                    )
                )
        if route.HasField("direct_response"):
            status = route.direct_response.status
            if not 200 <= status <= 599:
                errors.append(
                    FieldError(
                        f"{p}.directResponse.status",
                        f"status {status} out of range [200, 599]",
                    )
                )
        if route.HasField("rewrite"):
            rw = route.rewrite
            if rw.uri and rw.HasField("uri_regex_rewrite"):
                errors.append(FieldError(f"{p}.rewrite", "only one of uri, uriRegexRewrite may be set"))
            if rw.HasField("uri_regex_rewrite"):
                check_regex(rw.uri_regex_rewrite.match, f"{p}.rewrite.uriRegexRewrite.match", errors)
        if route.HasField("timeout"):
            _check_duration(route.timeout, f"{p}.timeout", errors, minimum_ms=0)
        if route.HasField("retries"):
            r = route.retries
            if r.attempts < 0:
                errors.append(FieldError(f"{p}.retries.attempts", "must not be negative"))
            if r.HasField("per_try_timeout"):
                _check_duration(r.per_try_timeout, f"{p}.retries.perTryTimeout", errors)
        if route.HasField("headers"):
            _check_headers(route.headers, f"{p}.headers", errors)
        if route.HasField("mirror"):
            _check_destination(route.mirror, f"{p}.mirror", errors)
        for k, mirror in enumerate(route.mirrors):
            _check_destination(mirror.destination, f"{p}.mirrors[{k}].destination", errors)
            if mirror.HasField("percentage"):
                _check_percent(mirror.percentage, f"{p}.mirrors[{k}].percentage", errors)
        if route.HasField("mirror_percentage"):
            _check_percent(route.mirror_percentage, f"{p}.mirrorPercentage", errors)
        if route.HasField("fault"):
            f = route.fault
            if f.HasField("delay") and f.delay.HasField("percentage"):
                _check_percent(f.delay.percentage, f"{p}.fault.delay.percentage", errors)
            if f.HasField("abort") and f.abort.HasField("percentage"):
                _check_percent(f.abort.percentage, f"{p}.fault.abort.percentage", errors)
            abort_status = f.abort.http_status if f.abort.WhichOneof("error_type") == "http_status" else 200
            if not 200 <= abort_status <= 599:
                errors.append(FieldError(f"{p}.fault.abort.httpStatus", "status out of range [200, 599]"))
        if route.HasField("cors_policy"):
            for j, o in enumerate(route.cors_policy.allow_origins):
                _check_string_match(o, f"{p}.corsPolicy.allowOrigins[{j}]", errors)
    l4_routes: list[tuple[str, list[Any]]] = [("tcp", list(spec.tcp)), ("tls", list(spec.tls))]
    for kind, routes in l4_routes:
        for i, l4 in enumerate(routes):
            lp = f"spec.{kind}[{i}]"
            if not l4.route:
                errors.append(FieldError(f"{lp}.route", "at least one destination is required"))
            if kind == "tls" and not l4.match:
                errors.append(FieldError(f"{lp}.match", "at least one match with sniHosts is required"))
            for j, m in enumerate(l4.match):
                mp = f"{lp}.match[{j}]"
                if kind == "tls" and not m.sni_hosts:
                    errors.append(FieldError(f"{mp}.sniHosts", "at least one SNI host is required"))
                for k, sni in enumerate(getattr(m, "sni_hosts", ())):
                    sni_errors: Errors = []
                    check_fqdn(sni, f"{mp}.sniHosts[{k}]", sni_errors)
                    errors.extend(sni_errors)
                    lower = sni.lower()
                    covered = any(
                        h == "*" or h.lower() == lower or (h.startswith("*.") and lower.endswith(h[1:].lower()))
                        for h in spec.hosts
                    )
                    if not sni_errors and not covered:
                        errors.append(
                            FieldError(
                                f"{mp}.sniHosts[{k}]",
                                f"SNI host {sni!r} is not covered by spec.hosts ({', '.join(spec.hosts)})",
                            )
                        )
                for k, subnet in enumerate(m.destination_subnets):
                    try:
                        ipaddress.ip_network(subnet, strict=False)
                    except ValueError:
                        errors.append(FieldError(f"{mp}.destinationSubnets[{k}]", f"invalid IP or CIDR {subnet!r}"))
                if m.port:
                    check_port(m.port, f"{mp}.port", errors)
                check_labels(m.source_labels.items(), f"{mp}.sourceLabels", errors)
                for k, gw in enumerate(m.gateways):
                    ns, _, name = gw.rpartition("/")
                    if not _DNS1123_SUBDOMAIN.match(name) or (ns and not _DNS1123_LABEL.match(ns)):
                        errors.append(FieldError(f"{mp}.gateways[{k}]", f"invalid gateway reference {gw!r}"))
            for j, dest in enumerate(l4.route):
                dp = f"spec.{kind}[{i}].route[{j}]"
                if not dest.HasField("destination"):
                    errors.append(FieldError(f"{dp}.destination", "required"))
                else:
                    _check_destination(dest.destination, f"{dp}.destination", errors)
                _check_fallback(dest, dp, errors)
            _check_weights(l4.route, f"spec.{kind}[{i}].route", errors)
    return errors
