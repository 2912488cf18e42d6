"""Routes: where a run's result goes. A leaf module (no engine, no database), so the templates'
definition (``hub/templates/definition.py``) can name routes with the same types as runs and triggers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hub.errors import InvalidArguments
from hub.plugin import Arguments

On = Literal["success", "failure", "always"]


class Route(Arguments):
    """One destination of a run's result, and on which outcome it is sent."""

    destination: str = Field(min_length=1, max_length=64, description="A destination's name (destination_list).")
    on: On = Field(default="success", description="success, failure (cancelled, timed out...) or always.")


DeliverTo = Annotated[
    list[str | Route] | None,
    Field(
        default=None,
        max_length=20,
        description='Destinations of the result: names (sent on success) or {"destination", "on": '
        "success|failure|always} (see destination_list).",
    ),
]
AnnounceFailuresTo = Annotated[
    list[str] | None,
    Field(default=None, max_length=20, description="Destinations told when the run fails, is cancelled or times out."),
]


def routes_of(deliver_to: list[str | Route] | None, announce_failures_to: list[str] | None) -> list[dict[str, str]]:
    """The stored form: ``deliver_to`` entries default to ``on: success``, failure destinations get ``on: failure``."""
    out: list[dict[str, str]] = []
    for entry in deliver_to or []:
        route = Route(destination=entry) if isinstance(entry, str) else entry
        out.append({"destination": route.destination, "on": route.on})
    out += [{"destination": name, "on": "failure"} for name in announce_failures_to or []]
    return out


def unknown_destinations(unknown: dict[str, list[str]]) -> InvalidArguments:
    """The error for routes naming destinations that do not exist: ``unknown`` maps each field to its names."""
    names = sorted({name for names in unknown.values() for name in names})
    return InvalidArguments(
        f"No destination named {', '.join(names)}. Create it with destination_create or pick one from "
        "destination_list.",
        errors=[
            {"field": field, "message": f"unknown destination {name}", "type": "unknown"}
            for field, names in unknown.items()
            for name in names
        ],
    )


class Routing(Arguments):
    """The fields a template, a template run or a trigger names its result's destinations with."""

    deliver_to: DeliverTo = None
    announce_failures_to: AnnounceFailuresTo = None

    def routes(self) -> list[dict[str, str]] | None:
        """The stored routes; None when neither field is given (an update keeps the old ones)."""
        if self.deliver_to is None and self.announce_failures_to is None:
            return None
        return routes_of(self.deliver_to, self.announce_failures_to)

    def named(self) -> dict[str, list[str]]:
        """The destination names of each field (for the existence check)."""
        deliver = [e if isinstance(e, str) else e.destination for e in self.deliver_to or []]
        return {"deliver_to": deliver, "announce_failures_to": list(self.announce_failures_to or [])}
