"""The server answers as its own /openapi.json says, for requests generated from it.

Schemathesis reads the document a running server serves and sends, for every operation, a
bounded number of generated requests (valid ones and, for bodies, broken ones), with a
fresh signature each. Each answer must be no server error, carry a status the document
lists for that operation, and (for JSON) match the documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from channelstream.views.openapi import build_openapi
from tests.support.server import ServerProcess
from tests.support.webapp import make

pytestmark = pytest.mark.timeout(180)

# Per operation: about 20 operations, a few ms a request, well under a minute in all.
EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Operations a generated HTTP request cannot exercise: a WebSocket upgrade, and the sign-in
# form (each wrong password is held 0.5 s; test_hardening_signin covers it).
SKIPPED = {("GET", "/ws"), ("POST", "/admin/sign_in")}


@pytest.fixture(scope="module")
def fuzzed(logs_dir: Path) -> Iterator[ServerProcess]:
    settings_ = {"gc_conns_after": 60, "longpoll_timeout": 0.2}
    with ServerProcess(settings=settings_, log_path=logs_dir / "openapi-fuzz.log") as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzzed: ServerProcess) -> Any:
    """The document as the running server serves it."""
    answer = requests.get(fuzzed.url + "/openapi.json", headers=fuzzed.headers(), timeout=10)
    assert answer.status_code == 200
    return schemathesis.openapi.from_dict(answer.json())


def _documented_paths() -> dict[str, Any]:
    """The document's paths, from channelstream built in this process: the same routes
    and views the server registers, known before any server runs."""
    app = make()
    try:
        return dict(build_openapi(app.app.registry)["paths"])
    finally:
        app.runtime.stop()


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with valid requests, and with broken ones where it takes input."""
    cases = []
    for path, operations in _documented_paths().items():
        for method, operation in operations.items():
            if (method.upper(), path) in SKIPPED:
                continue
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if "requestBody" in operation or operation.get("parameters"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(cases)


@pytest.mark.parametrize(
    ("method", "path", "mode"), _cases(), ids=lambda value: getattr(value, "value", value)
)
def test_every_answer_is_one_the_document_declares(
    api_schema: Any, fuzzed: ServerProcess, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answered_as_declared(case: Any) -> None:
        # A fresh signature each time (they are valid for a minute).
        response = case.call(base_url=fuzzed.url, headers=fuzzed.headers(), timeout=10)
        case.validate_response(response, checks=CHECKS)

    answered_as_declared()
