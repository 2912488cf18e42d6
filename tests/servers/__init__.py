"""Small MCP servers the tests start as real processes: stdio (raw JSON-RPC, starts in milliseconds)
and Streamable HTTP (the SDK's MCPServer)."""
