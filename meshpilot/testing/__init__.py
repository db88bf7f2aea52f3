"""Helpers for tests, the example and the demo: echo upstreams, Envoy and process control."""
