"""The agent backends the engine runs: Goose, OpenAI-compatible endpoints, a command, sampling.

The hub loads exactly the modules listed in ``PLUGINS`` (see ``hub/registry.py``)."""

PLUGINS: tuple[str, ...] = (
    "agents.command",
    "agents.goose",
    "agents.openai",
    "agents.sampling",
)
