"""The exact text users see for bad config: file, document, object, field path and message.

Every case feeds one small file through ConfigLoader and compares the full rendered
diagnostics, so any change to wording, location or field path shows up here.
"""

from __future__ import annotations

import textwrap

import pytest

from meshpilot.model.diagnostics import Severity
from meshpilot.model.loader import ConfigLoader

VS_HEAD = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
"""
VS = "routes.yaml doc 1 VirtualService default/reviews"
DR = "routes.yaml doc 1 DestinationRule default/reviews"
ISTIO_VERSIONS = "networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3"


def vs(http: str) -> str:
    """A VirtualService `default/reviews` whose spec.http list is `http` (YAML, any indentation)."""
    return VS_HEAD + textwrap.indent(textwrap.dedent(http), "  ")


def doc(text: str) -> str:
    return textwrap.dedent(text)


CASES: list[tuple[str, str, list[str]]] = [
    # ------------------------------------------------------------------ strict decoding
    (
        "unknown-field-did-you-mean",
        vs("""\
            - route:
              - destination: {host: reviews}
                wieght: 50
            """),
        [f'{VS}: spec.http[0].route[0].wieght: unknown field; did you mean "weight"?'],
    ),
    (
        "unknown-field-lists-known-fields",
        vs("""\
            - route:
              - destination: {host: reviews, zone: eu}
            """),
        [f"{VS}: spec.http[0].route[0].destination.zone: unknown field (known: host, port, subset)"],
    ),
    (
        "string-where-integer",
        vs("""\
            - route:
              - destination: {host: reviews}
                weight: fifty
            """),
        [f'{VS}: spec.http[0].route[0].weight: expected integer, got string "fifty"'],
    ),
    (
        "integer-out-of-int32-range",
        vs("""\
            - route:
              - destination: {host: reviews}
                weight: 3000000000
            """),
        [f"{VS}: spec.http[0].route[0].weight: integer 3000000000 out of range [-2147483648, 2147483647]"],
    ),
    (
        "negative-value-for-unsigned-map-value",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: vm1}
            spec:
              address: 10.0.0.1
              ports: {http: -1}
            """),
        ["routes.yaml doc 1 WorkloadEntry default/vm1: spec.ports.http: integer -1 out of range [0, 4294967295]"],
    ),
    (
        "integer-where-string-suggests-quoting",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {host: 8080}
            """),
        [f"{DR}: spec.host: expected string, got integer 8080 (quote it in YAML)"],
    ),
    (
        "list-where-mapping",
        vs("""\
            - route:
              - destination: [reviews]
            """),
        [f"{VS}: spec.http[0].route[0].destination: expected a mapping, got a list"],
    ),
    (
        "mapping-where-list",
        vs("""\
            - route:
                destination: {host: reviews}
            """),
        [f"{VS}: spec.http[0].route: expected a list, got a mapping"],
    ),
    (
        "bad-enum-value",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              trafficPolicy:
                loadBalancer: {simple: ROUND_ROBBIN}
            """),
        [
            f"{DR}: spec.trafficPolicy.loadBalancer.simple: expected one of UNSPECIFIED, LEAST_CONN, "
            'RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST, got string "ROUND_ROBBIN"'
        ],
    ),
    (
        "two-oneof-members",
        vs("""\
            - match:
              - uri: {exact: /a, prefix: /b}
              route:
              - destination: {host: reviews}
            """),
        [f'{VS}: spec.http[0].match[0].uri: only one of exact, prefix, regex may be set (got "exact" and "prefix")'],
    ),
    (
        "bad-duration",
        vs("""\
            - timeout: 5 seconds
              route:
              - destination: {host: reviews}
            """),
        [f'{VS}: spec.http[0].timeout: expected a duration such as "5s" or "100ms", got string "5 seconds"'],
    ),
    (
        "all-errors-of-a-document-are-reported",
        vs("""\
            - route:
              - destination: {host: reviews, subset: 1}
                weight: fifty
              timeout: 10
            """),
        [
            f"{VS}: spec.http[0].route[0].destination.subset: expected string, got integer 1 (quote it in YAML)",
            f'{VS}: spec.http[0].route[0].weight: expected integer, got string "fifty"',
            f'{VS}: spec.http[0].timeout: expected a duration such as "5s" or "100ms", got integer 10',
        ],
    ),
    # ------------------------------------------------------------------ regexes (RE2, as Envoy)
    (
        "invalid-regex-in-uri",
        vs("""\
            - match:
              - uri: {regex: "/api/(v1"}
              route:
              - destination: {host: reviews}
            """),
        [f"{VS}: spec.http[0].match[0].uri.regex: invalid RE2 regex '/api/(v1': missing ): /api/(v1"],
    ),
    (
        "invalid-regex-in-header",
        vs("""\
            - match:
              - headers:
                  x-user: {regex: "a**"}
              route:
              - destination: {host: reviews}
            """),
        [f"{VS}: spec.http[0].match[0].headers.x-user.regex: invalid RE2 regex 'a**': bad repetition operator: **"],
    ),
    (
        "lookahead-is-valid-python-but-not-re2",
        vs("""\
            - match:
              - uri: {regex: "/(?!admin).*"}
              route:
              - destination: {host: reviews}
            """),
        [f"{VS}: spec.http[0].match[0].uri.regex: invalid RE2 regex '/(?!admin).*': invalid perl operator: (?!"],
    ),
    # ------------------------------------------------------------------ required fields
    (
        "missing-destination-host",
        vs("""\
            - route:
              - destination: {subset: v1}
            """),
        [f"{VS}: spec.http[0].route[0].destination.host: required"],
    ),
    (
        "destination-rule-missing-host",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              subsets:
              - {name: v1, labels: {version: v1}}
            """),
        [f"{DR}: spec.host: required"],
    ),
    (
        "missing-spec",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            """),
        [f"{DR}: spec: required"],
    ),
    (
        "missing-metadata",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            spec: {host: reviews}
            """),
        ["routes.yaml doc 1: metadata: expected a mapping with name, got null"],
    ),
    # ------------------------------------------------------------------ envelope: apiVersion, kind, metadata
    (
        "missing-api-version",
        doc("""\
            kind: VirtualService
            metadata: {name: reviews}
            spec: {hosts: [reviews]}
            """),
        ["routes.yaml doc 1: apiVersion: required (e.g. networking.istio.io/v1)"],
    ),
    (
        "missing-kind",
        doc("""\
            apiVersion: networking.istio.io/v1
            metadata: {name: reviews}
            spec: {hosts: [reviews]}
            """),
        ["routes.yaml doc 1: kind: required (e.g. VirtualService)"],
    ),
    (
        "unsupported-istio-kind",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: EnvoyFilter
            metadata: {name: default}
            spec: {}
            """),
        [
            "routes.yaml doc 1: kind: unsupported kind 'EnvoyFilter'; expected one of Gateway, VirtualService, "
            "DestinationRule, ServiceEntry, WorkloadEntry, Sidecar"
        ],
    ),
    (
        "core-kind-under-istio-group",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Service
            metadata: {name: reviews}
            spec: {ports: [{port: 80}]}
            """),
        [
            "routes.yaml doc 1: kind: unsupported kind 'Service'; expected one of Gateway, VirtualService, "
            "DestinationRule, ServiceEntry, WorkloadEntry, Sidecar"
        ],
    ),
    (
        "unsupported-api-version-for-known-kind",
        doc("""\
            apiVersion: networking.istio.io/v2
            kind: VirtualService
            metadata: {name: reviews}
            spec: {hosts: [reviews]}
            """),
        [
            "routes.yaml doc 1 VirtualService default/reviews: apiVersion: "
            "unsupported apiVersion 'networking.istio.io/v2' for "
            f"VirtualService; expected one of {ISTIO_VERSIONS}"
        ],
    ),
    (
        "api-version-without-version",
        doc("""\
            apiVersion: networking.istio.io
            kind: Gateway
            metadata: {name: gw}
            spec: {}
            """),
        [
            "routes.yaml doc 1 Gateway default/gw: apiVersion: "
            "unsupported apiVersion 'networking.istio.io' for "
            f"Gateway; expected one of {ISTIO_VERSIONS}"
        ],
    ),
    (
        "uppercase-metadata-name",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: Reviews}
            spec: {host: reviews}
            """),
        [
            "routes.yaml doc 1 DestinationRule default/Reviews: metadata.name: invalid name 'Reviews': "
            "expected lowercase letters, digits, '-' and '.', starting and ending with a letter or digit "
            "(RFC 1123)"
        ],
    ),
    (
        "unknown-metadata-field",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, nmespace: prod}
            spec: {host: reviews}
            """),
        [f"{DR}: metadata.nmespace: unknown field"],
    ),
    (
        "unknown-top-level-field",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {host: reviews}
            specs: {host: reviews}
            """),
        [f"{DR}: specs: unknown field; expected apiVersion, kind, metadata, spec"],
    ),
    (
        "label-value-not-a-string",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
              labels: {enabled: true}
            spec: {host: reviews}
            """),
        [f"{DR}: metadata.labels: expected a mapping of strings to strings"],
    ),
    # ------------------------------------------------------------------ VirtualService semantics
    (
        "negative-weight",
        vs("""\
            - route:
              - destination: {host: reviews, subset: v1}
                weight: -10
              - destination: {host: reviews, subset: v2}
                weight: 110
            """),
        [f"{VS}: spec.http[0].route[0].weight: weight -10 must not be negative"],
    ),
    (
        "all-zero-weights",
        vs("""\
            - route:
              - destination: {host: reviews, subset: v1}
                weight: 0
              - destination: {host: reviews, subset: v2}
                weight: 0
            """),
        [f"{VS}: spec.http[0].route: the weights of several destinations must not all be zero"],
    ),
    (
        "header-name-not-lowercase",
        vs("""\
            - match:
              - headers:
                  X-User: {exact: jason}
              route:
              - destination: {host: reviews}
            """),
        [f"{VS}: spec.http[0].match[0].headers.X-User: header names must be lowercase"],
    ),
    (
        "route-without-action",
        vs("""\
            - match:
              - uri: {prefix: /reviews}
            """),
        [f"{VS}: spec.http[0]: exactly one of route, redirect, directResponse, delegate is required"],
    ),
    (
        "route-with-two-actions",
        vs("""\
            - route:
              - destination: {host: reviews}
              redirect: {uri: /v2}
            """),
        [
            f"{VS}: spec.http[0]: exactly one of route, redirect, directResponse, delegate is required "
            "(got route, redirect)"
        ],
    ),
    (
        "fallback-equals-destination",
        vs("""\
            - route:
              - destination: {host: reviews, subset: v1}
                fallback:
                  target: {host: reviews, subset: v1}
            """),
        [f"{VS}: spec.http[0].route[0].fallback.target: must differ from the destination it backs up"],
    ),
    # ------------------------------------------------------------------ other kinds
    (
        "duplicate-subset-names",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v1, labels: {version: v2}}
            """),
        [f"{DR}: spec.subsets[1].name: duplicate subset name 'v1' (also spec.subsets[0])"],
    ),
    (
        "gateway-port-out-of-range",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 70000, name: http, protocol: HTTP}
                hosts: ["*"]
            """),
        ["routes.yaml doc 1 Gateway default/ingress: spec.servers[0].port.number: port 70000 out of range [1, 65535]"],
    ),
    (
        "gateway-unknown-protocol",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP3}
                hosts: ["*"]
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].port.protocol: unknown protocol "
            "'HTTP3'; expected one of GRPC, GRPC-WEB, HTTP, HTTP2, HTTPS, MONGO, MYSQL, REDIS, TCP, TLS, UDP"
        ],
    ),
    (
        "https-server-without-tls",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
            """),
        ["routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls: required for an HTTPS server"],
    ),
    (
        "service-entry-static-without-endpoints",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: payments}
            spec:
              hosts: [payments.example.com]
              ports:
              - {number: 443, name: tls, protocol: TLS}
              resolution: STATIC
            """),
        [
            "routes.yaml doc 1 ServiceEntry default/payments: spec.endpoints: "
            "required when resolution is STATIC (or set workloadSelector)"
        ],
    ),
    (
        "workload-entry-without-address",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: vm1}
            spec:
              labels: {app: reviews}
            """),
        ["routes.yaml doc 1 WorkloadEntry default/vm1: spec.address: required"],
    ),
    (
        "service-with-several-unnamed-ports",
        doc("""\
            apiVersion: v1
            kind: Service
            metadata: {name: reviews}
            spec:
              selector: {app: reviews}
              ports:
              - {port: 9080}
              - {port: 9090}
            """),
        [
            "routes.yaml doc 1 Service default/reviews: spec.ports[0].name: required when a Service has several ports",
            "routes.yaml doc 1 Service default/reviews: spec.ports[1].name: required when a Service has several ports",
        ],
    ),
    # ------------------------------------------------------------------ documents and files
    (
        "error-in-third-document",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ratings}
            spec: {host: ratings}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: details}
            spec: {host: details}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {hots: reviews}
            """),
        ['routes.yaml doc 3 DestinationRule default/reviews: spec.hots: unknown field; did you mean "host"?'],
    ),
    (
        "empty-documents-are-counted",
        doc("""\
            ---
            # nothing here yet
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {host: 5}
            """),
        [
            "routes.yaml doc 2 DestinationRule default/reviews: spec.host: "
            "expected string, got integer 5 (quote it in YAML)"
        ],
    ),
    (
        "document-is-a-list",
        doc("""\
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: reviews}
              spec: {host: reviews}
            """),
        ["routes.yaml doc 1: expected a mapping, got a list"],
    ),
    (
        "document-is-a-scalar",
        "just a sentence\n",
        ['routes.yaml doc 1: expected a mapping, got string "just a sentence"'],
    ),
    (
        "yaml-syntax-error",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews
            spec: {host: reviews}
            """),
        ["routes.yaml: not valid YAML at line 4, column 5: expected ',' or '}', but got ':'"],
    ),
    (
        "file-is-not-yaml-at-all",
        # A PNG header as the file source reads it (bytes decoded as UTF-8 with replacement).
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".decode("utf-8", errors="replace"),
        ["routes.yaml: not valid YAML: unacceptable character #x001a: special characters are not allowed"],
    ),
    (
        "empty-regex",
        vs("""\
            - match: [{uri: {regex: ""}}]
              route: [{destination: {host: reviews}}]
            """),
        [f"{VS}: spec.http[0].match[0].uri.regex: regex must not be empty"],
    ),
    (
        "host-header-cannot-be-removed",
        vs("""\
            - route: [{destination: {host: reviews}}]
              headers: {request: {remove: [host]}, response: {set: {":status": "200"}}}
            """),
        [
            f"{VS}: spec.http[0].headers.request.remove[0]: host cannot be modified (Envoy refuses it); "
            "set request host or :authority, or use rewrite.authority",
            f"{VS}: spec.http[0].headers.response.set.:status: "
            ":status cannot be modified (Envoy refuses it); "
            "set request host or :authority, or use rewrite.authority",
        ],
    ),
    (
        "direct-response-bytes-not-base64",
        vs("""\
            - directResponse: {status: 200, body: {bytes: "not base64!"}}
            """),
        [f"{VS}: spec.http[0].directResponse.body.bytes: expected base64-encoded bytes"],
    ),
    (
        "gateway-bind-not-an-ip",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
                bind: localhost
            """),
        [
            "routes.yaml doc 1 Gateway default/gw: spec.servers[0].bind: "
            "expected an IP address or unix:// path, got 'localhost'"
        ],
    ),
    (
        "dns-service-entry-wildcard-without-endpoints",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ext}
            spec:
              hosts: ["*.example.com"]
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: DNS
            """),
        [
            "routes.yaml doc 1 ServiceEntry default/ext: spec.hosts[0]: "
            "a wildcard host cannot be resolved by DNS; add endpoints"
        ],
    ),
    (
        "client-tls-mutual-without-certificates-port-level",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              trafficPolicy:
                portLevelSettings:
                - port: {number: 443}
                  tls: {mode: MUTUAL, subjectAltNames: [reviews.example.com]}
            """),
        [
            f"{DR}: spec.trafficPolicy.portLevelSettings[0].tls.clientCertificate: required when mode is MUTUAL",
            f"{DR}: spec.trafficPolicy.portLevelSettings[0].tls.privateKey: required when mode is MUTUAL",
        ],
    ),
    (
        "dns-round-robin-with-two-endpoints",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ext}
            spec:
              hosts: [api.example.com]
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: DNS_ROUND_ROBIN
              endpoints: [{address: a.example.com}, {address: b.example.com}]
            """),
        [
            "routes.yaml doc 1 ServiceEntry default/ext: spec.endpoints: "
            "resolution DNS_ROUND_ROBIN allows at most one endpoint (use DNS)"
        ],
    ),
    # ------------------------------------------------------------------ gateway TLS, tcp/tls routes
    (
        "gateway-simple-tls-without-certificate",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.serverCertificate: "
            "required when mode is SIMPLE (or set credentialName)",
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.privateKey: "
            "required when mode is SIMPLE (or set credentialName)",
        ],
    ),
    (
        "gateway-mutual-tls-without-ca",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: MUTUAL, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.caCertificates: "
            "required when mode is MUTUAL: the CA that signs client certificates"
        ],
    ),
    (
        "gateway-tls-min-version-above-max",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls:
                  mode: SIMPLE
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
                  minProtocolVersion: TLSV1_3
                  maxProtocolVersion: TLSV1_2
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.minProtocolVersion: "
            "TLSV1_3 is above maxProtocolVersion TLSV1_2"
        ],
    ),
    (
        "gateway-tls-max-version-below-default-min",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*"]
                tls: {mode: PASSTHROUGH, maxProtocolVersion: TLSV1_1}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.maxProtocolVersion: "
            "TLSV1_1 is below the default minProtocolVersion TLSV1_2; set minProtocolVersion too"
        ],
    ),
    (
        "gateway-unknown-cipher-suites",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls:
                  mode: SIMPLE
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
                  cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, TLS_AES_128_GCM_SHA256, "[AES128-SHA|RC4-MD5]"]
            """),
        [
            f"routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.cipherSuites[{i}]: "
            f"unknown cipher suite '{name}'; expected one of ECDHE-ECDSA-AES128-GCM-SHA256, "
            "ECDHE-RSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384, "
            "ECDHE-ECDSA-CHACHA20-POLY1305, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-ECDSA-AES128-SHA, "
            "ECDHE-RSA-AES128-SHA, ECDHE-ECDSA-AES256-SHA, ECDHE-RSA-AES256-SHA, AES128-GCM-SHA256, "
            "AES256-GCM-SHA384, AES128-SHA, AES256-SHA, DES-CBC3-SHA "
            "(or their IANA names; TLS 1.3 suites cannot be configured)"
            for i, name in ((1, "TLS_AES_128_GCM_SHA256"), (2, "RC4-MD5"))
        ],
    ),
    (
        "gateway-tls-server-without-tls",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*"]
            """),
        ["routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls: required for a TLS server"],
    ),
    (
        "gateway-plaintext-http-server-terminating-tls",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
                tls: {mode: SIMPLE, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls: "
            "a plaintext HTTP server only takes httpsRedirect; use protocol HTTPS to terminate TLS"
        ],
    ),
    (
        "gateway-tcp-server-with-tls",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 5432, name: postgres, protocol: TCP}
                hosts: ["*"]
                tls: {httpsRedirect: true}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls: "
            "TLS settings need protocol HTTPS or TLS, not TCP"
        ],
    ),
    (
        "gateway-credential-name-and-certificate-files",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls:
                  mode: MUTUAL
                  credentialName: shop-cert
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
                  caCrl: /etc/certs/crl.pem
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls: only one of credentialName, "
            "credentialNames, serverCertificate/privateKey may be set "
            "(got credentialName, serverCertificate/privateKey)",
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.caCrl: "
            "cannot be used with credentialName (the secret holds the CRL)",
        ],
    ),
    (
        "gateway-istio-mutual-with-certificate",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 15443, name: tls-mesh, protocol: TLS}
                hosts: ["*"]
                tls: {mode: ISTIO_MUTUAL, serverCertificate: /etc/certs/tls.crt}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.serverCertificate: "
            "must not be set when mode is ISTIO_MUTUAL"
        ],
    ),
    (
        "gateway-https-server-without-port-name-and-duplicate-port-names",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, protocol: HTTPS}
                hosts: [a.example.com]
                tls: {mode: SIMPLE, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key}
              - port: {number: 80, name: web, protocol: HTTP}
                hosts: ["*"]
              - port: {number: 8443, name: web, protocol: HTTPS}
                hosts: [b.example.com]
                tls: {mode: PASSTHROUGH}
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].port.name: required for an HTTPS "
            "server: it names the route configuration https.<number>.<name>.<gateway>.<namespace>",
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[2].port.name: "
            "duplicate port name 'web' (also spec.servers[1])",
        ],
    ),
    (
        "gateway-simple-tls-with-crl-and-bad-pins",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls:
                  mode: SIMPLE
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
                  caCrl: /etc/certs/crl.pem
                  verifyCertificateHash: ["not-a-hash"]
                  verifyCertificateSpki: ["c2hvcnQ="]
            """),
        [
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.caCrl: "
            "only applies when mode is MUTUAL or OPTIONAL_MUTUAL",
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.verifyCertificateHash[0]: "
            "expected a hex-encoded SHA-256 hash",
            "routes.yaml doc 1 Gateway default/ingress: spec.servers[0].tls.verifyCertificateSpki[0]: "
            "expected a base64-encoded SHA-256 hash",
        ],
    ),
    (
        "tls-route-without-sni-hosts",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: ["*.example.com"]
              gateways: [istio-system/ingress]
              tls:
              - route: [{destination: {host: reviews}}]
              - match: [{port: 443}]
                route: [{destination: {host: reviews}}]
            """),
        [
            f"{VS}: spec.tls[0].match: at least one match with sniHosts is required",
            f"{VS}: spec.tls[1].match[0].sniHosts: at least one SNI host is required",
        ],
    ),
    (
        "tls-route-sni-host-outside-hosts",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: ["*.example.com", api.example.org]
              gateways: [istio-system/ingress]
              tls:
              - match:
                - sniHosts: [a.example.com, "*.example.org", "bad_host!"]
                  gateways: [istio-system/Ingress]
                route: [{destination: {host: reviews}}]
            """),
        [
            f"{VS}: spec.tls[0].match[0].sniHosts[1]: "
            "SNI host '*.example.org' is not covered by spec.hosts (*.example.com, api.example.org)",
            f"{VS}: spec.tls[0].match[0].sniHosts[2]: "
            "invalid host 'bad_host!': expected a DNS name, optionally starting with '*.'",
            f"{VS}: spec.tls[0].match[0].gateways[0]: invalid gateway reference 'istio-system/Ingress'",
        ],
    ),
    (
        "tcp-route-without-destination-and-bad-match",
        doc("""\
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: ["*"]
              gateways: [istio-system/ingress]
              tcp:
              - match:
                - {port: 70000, destinationSubnets: [10.0.0.0/33], sourceLabels: {app: "bad value!"}}
            """),
        [
            f"{VS}: spec.tcp[0].route: at least one destination is required",
            f"{VS}: spec.tcp[0].match[0].destinationSubnets[0]: invalid IP or CIDR '10.0.0.0/33'",
            f"{VS}: spec.tcp[0].match[0].port: port 70000 out of range [1, 65535]",
            f"{VS}: spec.tcp[0].match[0].sourceLabels.app: invalid label value 'bad value!'",
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_diagnostic_text(text: str, expected: list[str]) -> None:
    result = ConfigLoader().load({"routes.yaml": text})
    assert [str(d) for d in result.rejected] == expected
    assert all(d.severity is Severity.ERROR for d in result.rejected)
    assert result.warnings == ()
