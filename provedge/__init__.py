"""provedge: command-line wiring for the control plane and the edge."""

__version__ = "0.1.0"
