"""Domain rules without I/O: the model catalogue, template values, the service error type."""
