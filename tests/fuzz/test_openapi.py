"""Schemathesis against the real `goosuke serve`: every operation of /api/openapi.json, with a token per
role, positive and negative cases; never a 5xx or a traceback, never a 2xx for a role too low, and the hub
still answers afterwards."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.fuzz.conftest import ROLES, ServedHub

# Operations left out, each because it would take away the fuzzer's own access mid-run.
EXCLUDED = {
    "token_revoke": "revokes API tokens by id: it could revoke the tokens this test fuzzes with",
    "user_update": "disables or demotes users: it could disable 'admin' or the users the fuzz tokens belong to",
}
ALLOWED_EXAMPLES = 4  # per operation and role that may call it, positive and negative cases mixed
DENIED_EXAMPLES = 1  # per operation and role that may not: the refusal comes before any validation


def fuzz_operation(operation: Any, hub: ServedHub, role: str, session: requests.Session) -> None:
    tool = operation.path.rsplit("/", 1)[-1]
    allowed = operation.path == "/api/auth/token" or hub.allows(role, tool)
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @hypothesis_settings(
        max_examples=ALLOWED_EXAMPLES if allowed else DENIED_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def one_case(case: Any) -> None:
        headers = {"Authorization": f"Bearer {hub.tokens[role]}"}
        response = case.call(base_url=hub.url, session=session, headers=headers, timeout=60)
        case.validate_response(response, checks=[not_a_server_error], headers=headers)
        assert "Traceback" not in response.text, response.text
        if not allowed:
            assert not 200 <= response.status_code < 300, f"{role} was let through: {response.text}"

    one_case()


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_for_every_role_never_answers_5xx(served_hub: ServedHub, role: str) -> None:
    headers = {"Authorization": f"Bearer {served_hub.tokens[role]}"}
    schema = schemathesis.openapi.from_url(f"{served_hub.url}/api/openapi.json", headers=headers, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    covered = {op.path.rsplit("/", 1)[-1] for op in operations}
    assert set(served_hub.tool_roles) <= covered  # the document lists every tool
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            if operation.path.rsplit("/", 1)[-1] in EXCLUDED:
                continue
            try:
                fuzz_operation(operation, served_hub, role, session)
            except Exception as exc:  # collected so that one run reports every failing operation
                failures.append(f"{operation.label} as {role}: {type(exc).__name__}: {exc}")
    served_hub.assert_alive()
    assert not failures, "\n\n".join(failures)


def test_the_hub_is_alive_after_every_role_fuzzed_it(served_hub: ServedHub) -> None:
    served_hub.assert_alive()
    viewer = {"Authorization": f"Bearer {served_hub.tokens['viewer']}"}
    assert httpx2.get(f"{served_hub.url}/api/tools", headers=viewer, timeout=30).status_code == 200
