"""The console's small display helpers, as the pages use them."""

from __future__ import annotations

import pytest

from hub.console.render import started_by


@pytest.mark.parametrize(
    ("trigger", "shown"),
    [
        ("webhook:webhook:gh", "webhook gh"),  # a trigger's actor names its kind again
        ("schedule:schedule:nightly", "schedule nightly"),
        ("mcp:admin", "mcp admin"),
        ("reaction:discord:123:✏️", "reaction discord:123:✏️"),
        ("api:", "api"),
        ("", ""),
    ],
)
def test_started_by_reads_as_people_say_it(trigger: str, shown: str) -> None:
    assert started_by(trigger) == shown
