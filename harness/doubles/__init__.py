"""Test doubles that speak real protocols over real sockets (an OpenAI-compatible LLM, ...)."""
