"""A bounded schemathesis run over the OpenAPI document, against a real `provedge run`.

Every operation of the document gets at most ``EXAMPLES`` generated requests (derandomized,
so a run is reproducible and a failure comes back on the next run), sent with an operator
token. Each response must not be a 5xx, must have a status the document lists for the
operation, and must match the response schema documented for that status.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from control.api.app import ROUTES
from tests.conftest import Provedge, start_provedge, stop_provedge

EXAMPLES = 200  # per operation, valid and invalid: 28 operations, ~90 s on a 2-core host
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    # Its own server: generated requests create and change tenants and devices freely.
    server = start_provedge(tmp_path_factory.mktemp("schemathesis"))
    yield server
    stop_provedge(server)


@pytest.fixture(scope="module")
def api_schema(fuzzed: Provedge) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzzed.control + "/api/v1/openapi.json")


# One test per route of the table (schemathesis' own pytest loader, from_fixture, reads a
# pytest-private attribute that pytest 9 no longer has; as_strategy is its public API).
@pytest.mark.parametrize("method, path", [(op.method, op.path) for op in ROUTES])
def test_route_conforms_to_the_document(
    api_schema: schemathesis.BaseSchema, fuzzed: Provedge, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {fuzzed.token}"}

    # Valid requests and invalid ones (wrong types, missing fields, out-of-range values).
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,  # real requests over loopback on a shared machine
        suppress_health_check=[HealthCheck.too_slow],
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
