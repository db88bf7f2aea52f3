"""The running control plane: wires sources, cache, xDS server and admin HTTP together."""
