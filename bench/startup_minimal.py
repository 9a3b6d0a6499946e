"""The peer for bench/startup.py: a minimal stdio server on the same SDK, one echo tool."""

from mcp.server import MCPServer

server = MCPServer("echo")


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


if __name__ == "__main__":
    server.run()
