"""Prometheus metrics, one registry per app so several apps in one process never collide.

Tool calls are also counted per minute in a small in-memory ring (the last :data:`WINDOW_MINUTES`
minutes), and :meth:`Metrics.tool_summary` reads both (calls, errors, latency percentiles
interpolated in the histogram's buckets) for the ``hub_metrics`` tool.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
WINDOW_MINUTES = 60  # minutes of per-minute tool-call counts kept in memory
QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class Minute:
    """The tool calls that ended in one minute (``at``: its start, seconds since the epoch)."""

    at: int
    calls: int = 0
    errors: int = 0


@dataclass
class ToolFigures:
    """One tool's calls since the hub started: how many, how many not ``ok``, latency quantiles (seconds)."""

    tool: str
    calls: int
    errors: int
    quantiles: dict[float, float | None]


@dataclass
class MinuteRing:
    """Per-minute call counts of the last ``size`` minutes (minutes without calls are absent)."""

    size: int = WINDOW_MINUTES
    clock: Callable[[], float] = time.time
    minutes: deque[Minute] = field(default_factory=deque)

    def add(self, error: bool) -> None:
        now = int(self.clock() // 60 * 60)
        if not self.minutes or self.minutes[-1].at != now:
            self.minutes.append(Minute(now))
        self.minutes[-1].calls += 1
        self.minutes[-1].errors += int(error)
        while self.minutes and self.minutes[0].at <= now - self.size * 60:
            self.minutes.popleft()

    def window(self) -> list[Minute]:
        """Every one of the last ``size`` minutes, oldest first, zeros included."""
        now = int(self.clock() // 60 * 60)
        kept = {m.at: m for m in self.minutes}
        return [kept.get(at, Minute(at)) for at in range(now - (self.size - 1) * 60, now + 60, 60)]


class _CallChild:
    def __init__(self, counter: Counter, ring: MinuteRing, labels: dict[str, str]) -> None:
        self._child, self._ring, self._error = counter.labels(**labels), ring, labels["outcome"] != "ok"

    def inc(self) -> None:
        self._child.inc()
        self._ring.add(self._error)


class ToolCallCounter:
    """``goosuke_tool_calls`` (tool, outcome, via) that also ticks the per-minute ring."""

    def __init__(self, registry: CollectorRegistry, ring: MinuteRing) -> None:
        self.counter = Counter(
            "goosuke_tool_calls",
            "Tool calls by tool, outcome and entry point.",
            ["tool", "outcome", "via"],
            registry=registry,
        )
        self.ring = ring

    def labels(self, *, tool: str, outcome: str, via: str) -> _CallChild:
        return _CallChild(self.counter, self.ring, {"tool": tool, "outcome": outcome, "via": via})


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile of a cumulative histogram (``(upper bound, count)`` ascending, ``+Inf`` last),
    interpolated linearly inside its bucket (as Prometheus' ``histogram_quantile``); None without samples."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower  # beyond the last finite bound: the bound is all that is known
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = upper, count
    return lower


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
        self.per_minute = MinuteRing()
        self.tool_calls = ToolCallCounter(self.registry, self.per_minute)
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

    def tool_summary(self) -> tuple[list[ToolFigures], ToolFigures]:
        """Every tool called since the start (most called first), and all tools together (``tool="*"``)."""
        calls: Tally[str] = Tally()
        errors: Tally[str] = Tally()
        for metric in self.tool_calls.counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    calls[sample.labels["tool"]] += int(sample.value)
                    if sample.labels["outcome"] != "ok":
                        errors[sample.labels["tool"]] += int(sample.value)
        buckets: dict[str, dict[float, float]] = {}
        for metric in self.tool_seconds.collect():
            for sample in metric.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    buckets.setdefault(sample.labels["tool"], {})[bound] = sample.value
        everything: dict[float, float] = Tally()  # type: ignore[assignment]
        for per_bound in buckets.values():
            for bound, count in per_bound.items():
                everything[bound] += count

        def figures(tool: str, bounds: dict[float, float], n: int, failed: int) -> ToolFigures:
            ordered = sorted(bounds.items())
            return ToolFigures(tool, n, failed, {q: quantile(ordered, q) for q in QUANTILES})

        tools = [figures(t, buckets.get(t, {}), n, errors[t]) for t, n in calls.most_common()]
        return tools, figures("*", everything, sum(calls.values()), sum(errors.values()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
