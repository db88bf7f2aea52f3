"""Observability: structured logging, Prometheus metrics."""
