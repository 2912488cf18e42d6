"""Prometheus metrics, one registry per app so several apps in one process never collide."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "goosuke_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "goosuke_http_request_seconds",
            "HTTP request latency.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tool_calls = Counter(
            "goosuke_tool_calls",
            "Tool calls by tool, outcome and entry point.",
            ["tool", "outcome", "via"],
            registry=self.registry,
        )
        self.tool_seconds = Histogram(
            "goosuke_tool_call_seconds",
            "Tool call latency.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.action_firings = Counter(
            "goosuke_action_firings",
            "Trigger firings by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.webhook_refused = Counter(
            "goosuke_webhook_refused",
            "Webhook requests refused before firing, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.sse_sessions = Gauge("goosuke_sse_sessions_open", "Open legacy SSE streams.", registry=self.registry)
        self.mcp_sessions = Gauge("goosuke_mcp_sessions_open", "Open Streamable HTTP sessions.", registry=self.registry)

    def track_mcp_sessions(self, counter: Callable[[], int]) -> None:
        self.mcp_sessions.set_function(lambda: float(counter()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
