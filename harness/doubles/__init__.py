"""Doubles of outside services that speak the real protocols over real sockets: Discord (REST and gateway)
and an OpenAI-compatible LLM. The tests and the benchmarks both drive them."""
