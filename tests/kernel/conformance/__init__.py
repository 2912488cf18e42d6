"""MCP conformance-suite fixtures for Goosuke, loaded as a hub plugin (see fixtures.py)."""
