"""xDS serving: snapshots, the cache, the sans-IO protocol core and the gRPC server."""
