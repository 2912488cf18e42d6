"""The hub's version, in one place (read by the package root, the CLI, the server and the facade)."""

__version__ = "0.1.0"
