"""meshpilot: an xDS control plane for Envoy that speaks Istio's traffic API."""

__version__ = "0.1.0"
