"""Property-based API testing: schemathesis reads our /openapi.json and throws cases at a real
uvicorn server — valid ones (steered to the key's team, so some get past the team check) and
invalid ones. No answer may be a 5xx or fall outside the document."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, TEAM, served_sidecar

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _steer(case: Case[Any]) -> Case[Any]:
    """Point a generated case at the key's own team (and a real person) now and then."""
    if isinstance(case.body, dict) and "team_id" in case.body:
        case.body["team_id"] = TEAM
        for person in ("user", "owner"):
            if isinstance(case.body.get(person), dict):
                case.body[person] = {"slack_user_id": ANA}
    if case.path_parameters and "team_id" in case.path_parameters:
        case.path_parameters["team_id"] = TEAM
    return case


def _examine(strategy: Any, base_url: str, headers: dict[str, str], checks: list[Any]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    check()


def run_schemathesis(base_url: str, api_key: str) -> list[str]:
    """Every operation, positive and negative cases; the failures, described."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document does not load: {result.err()}")
            continue
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            generated = operation.as_strategy(generation_mode=mode)
            checks = list(CHECKS)
            strategy: Any = generated
            if mode is GenerationMode.POSITIVE:
                strategy = st.one_of(generated, generated.map(_steer))
            else:
                checks.append(negative_data_rejection)
            try:
                _examine(strategy, base_url, headers, checks)
            except Exception as error:  # collect, so one run reports every operation
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    return failures


async def test_no_5xx_and_no_answer_outside_the_schema(database_url: str, clock: FakeClock) -> None:
    async with served_sidecar(database_url, clock) as harness:
        key = await harness.api_key(TEAM)
        await harness.utility.create_task(ANA, {"title": "Something to read"}, team_id=TEAM)
        failures = await asyncio.to_thread(run_schemathesis, harness.base_url, key)
    assert failures == [], "\n\n".join(failures)
