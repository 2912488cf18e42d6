"""A minimal MCP server over stdio, written against the wire protocol (no SDK: it starts in ~30 ms).

Tools: echo(text), add(a, b), env(name) (the value of an environment variable), crash() (the process
exits at once), hang() (never answers), sleep(seconds), spawn_child() (forks a grandchild that sleeps).

    python -m tests.servers.stdio_server [--crash-on-init | --hang-on-init | --garbage | --leak-env-and-crash NAME]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TOOLS = [
    {
        "name": "echo",
        "description": "Echo the text back.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
    {
        "name": "env",
        "description": "Read an environment variable.",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    },
    {"name": "crash", "description": "Exit the process at once.", "inputSchema": {"type": "object"}},
    {"name": "hang", "description": "Never answer.", "inputSchema": {"type": "object"}},
    {
        "name": "sleep",
        "description": "Answer after some seconds.",
        "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}},
    },
    {
        "name": "spawn_child",
        "description": "Start a grandchild process that sleeps.",
        "inputSchema": {"type": "object"},
    },
]


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def text(value: str) -> dict:
    return {"content": [{"type": "text", "text": value}], "isError": False}


def call(name: str, args: dict) -> dict | None:
    if name == "echo":
        return text(str(args.get("text", "")))
    if name == "add":
        return text(str(args["a"] + args["b"]))
    if name == "env":
        return text(os.environ.get(args["name"], "<unset>"))
    if name == "crash":
        os._exit(3)
    if name == "hang":
        return None
    if name == "sleep":
        time.sleep(float(args.get("seconds", 1)))
        return text("slept")
    if name == "spawn_child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        return text(str(child.pid))
    return {"content": [{"type": "text", "text": f"unknown tool {name}"}], "isError": True}


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    print("stdio test server ready", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:
            continue  # notifications
        if method == "initialize":
            if mode == "--leak-env-and-crash":  # prints a variable to stderr, as a careless server might
                print(f"starting with token {os.environ.get(sys.argv[2], '')}", file=sys.stderr, flush=True)
                os._exit(9)
            if mode == "--crash-on-init":
                print("boom: crashing during initialize", file=sys.stderr, flush=True)
                os._exit(7)
            if mode == "--hang-on-init":
                continue
            if mode == "--garbage":
                sys.stdout.write("this is not json-rpc\n")
                sys.stdout.flush()
                continue
            send(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "result": {
                        "protocolVersion": msg["params"].get("protocolVersion", "2025-11-25"),
                        "capabilities": {"tools": {"listChanged": True}},
                        "serverInfo": {"name": "stdio-test-server", "version": "1.0"},
                    },
                }
            )
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            result = call(msg["params"]["name"], msg["params"].get("arguments") or {})
            if result is not None:
                send({"jsonrpc": "2.0", "id": msg_id, "result": result})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": f"Method not found: {method}"}})


if __name__ == "__main__":
    main()
