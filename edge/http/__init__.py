"""The edge's HTTP side: the config-file hot path, its routing and the server running it."""
