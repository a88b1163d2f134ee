"""Schemathesis against the real app: no server errors and no undocumented status codes.

The app runs under uvicorn with its own database; every operation of the
OpenAPI schema gets a bounded, seeded number of generated requests, once
anonymous and once with the operator key. Two checks: no 5xx, and every
status code the API answers is one the schema documents for that operation.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from api.main import create_app
from tests.conftest import make_settings

EXAMPLES = 8  # per operation and caller: the whole run stays well under a minute
OPERATOR = "operator-token-for-the-schema-run-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app_settings = make_settings(
        tmp_path_factory.mktemp("schema"),
        rasa_url="http://127.0.0.1:9",
        rasa_timeout_seconds=0.5,
        operator_token=OPERATOR,
        limits_exempt_addresses="127.0.0.1",
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _runner(operation: Any, base_url: str, headers: dict[str, str]) -> Callable[[], None]:
    checks = [status_code_conformance]
    if operation.path != "/health":  # its 503 means Rasa is not running here, as documented
        checks.append(not_a_server_error)

    @given(case=operation.as_strategy())
    @SETTINGS
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=10)

    return run


def failures(
    schema: schemathesis.schemas.BaseSchema, base_url: str, headers: dict[str, str]
) -> list[str]:
    """Runs every operation; one line per operation that failed a check."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()

        run = _runner(operation, base_url, headers)

        try:
            run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as failure:  # noqa: BLE001 - a group of failures, reported
            found.append(f"{operation.label}: {failure}")
    return found


def test_anonymous_requests_get_documented_answers(
    api_schema: schemathesis.schemas.BaseSchema, base_url: str
) -> None:
    assert failures(api_schema, base_url, {}) == []


def test_operator_requests_get_documented_answers(
    api_schema: schemathesis.schemas.BaseSchema, base_url: str
) -> None:
    assert failures(api_schema, base_url, {"Authorization": f"Bearer {OPERATOR}"}) == []


def test_the_run_covers_the_api(api_schema: schemathesis.schemas.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30


def test_anonymous_callers_cannot_tell_whether_a_ticket_exists(base_url: str) -> None:
    import httpx

    created = httpx.post(
        f"{base_url}/tickets",
        json={"domain": "internet", "title": "No connection"},
        headers={"Authorization": f"Bearer {OPERATOR}"},
    )
    assert created.status_code == 201
    existing, missing = created.json()["number"], "TCK-999999"
    for number in (existing, missing):
        for method, path, body in (
            ("GET", f"/tickets/{number}", None),
            ("PATCH", f"/tickets/{number}", {"priority": "high"}),
            ("POST", f"/tickets/{number}/notes", {"text": "hello"}),
            ("GET", f"/tickets/{number}/events", None),
        ):
            answer = httpx.request(method, base_url + path, json=body)
            assert answer.status_code == 401, (method, path, answer.text)
