"""Config sources: the only config I/O."""
