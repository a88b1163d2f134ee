"""REST: every integer a request can carry is checked against the 64-bit range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import make_settings

TOO_BIG = 2**64


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("rest"), rasa_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {app_settings.operator_token}"
        yield test_client


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_integer(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(spec, schema)
    options = schema.get("anyOf", [schema])
    return any(_resolve(spec, o).get("type") == "integer" for o in options)


def integer_inputs(client: TestClient) -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every integer parameter and body field."""
    spec = client.get("/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if _is_integer(spec, parameter.get("schema", {})):
                    found.append((method, path, parameter["in"], parameter["name"]))
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            if body is None:
                continue
            for name, field in _resolve(spec, body).get("properties", {}).items():
                if _is_integer(spec, field):
                    found.append((method, path, "body", name))
    return found


def test_the_api_has_integer_inputs_to_check(client: TestClient) -> None:
    inputs = integer_inputs(client)
    assert len(inputs) >= 27
    assert ("get", "/tickets", "query", "customer_id") in inputs
    assert ("post", "/parts/orders", "body", "device_id") in inputs or any(
        where == "body" and name == "device_id" for _, _, where, name in inputs
    )


def test_every_integer_beyond_64_bits_is_a_422_naming_the_field(client: TestClient) -> None:
    ticket = client.post("/tickets", json={"domain": "internet", "title": "No signal"})
    assert ticket.status_code == 201
    refused: list[str] = []
    for method, path, where, name in integer_inputs(client):
        url = path
        params: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for placeholder in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
            value: Any = TOO_BIG if (where == "path" and placeholder == name) else 1
            if placeholder == "number":
                value = ticket.json()["number"]
            url = url.replace("{" + placeholder + "}", str(value))
        if where == "query":
            params[name] = TOO_BIG
        if where == "body":
            body[name] = TOO_BIG
        response = client.request(
            method, url, params=params, json=body if method != "get" else None
        )
        where_name = f"{method.upper()} {path} {where} {name}"
        if response.status_code != 422:
            refused.append(f"{where_name}: {response.status_code}")
            continue
        errors = response.json()["detail"]
        if not any(e["loc"][-1] == name for e in errors):
            refused.append(f"{where_name}: {errors}")
    assert refused == [], "\n".join(refused)


def test_a_visit_slot_with_a_huge_technician_is_refused(client: TestClient) -> None:
    from api.services.errors import Invalid
    from api.services.visits import parse_slot_ref

    with pytest.raises(Invalid):
        parse_slot_ref(f"{TOO_BIG}@2026-12-01T09:00Z")
    assert parse_slot_ref("3@2026-12-01T09:00Z")[0] == 3


def assert_validation_shape(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for error in detail:
        assert isinstance(error["loc"], list) and error["msg"] and error["type"]
    return detail


def test_a_ticket_patch_with_null_fields_leaves_them_as_they_are(client: TestClient) -> None:
    created = client.post(
        "/tickets", json={"domain": "internet", "title": "Slow", "priority": "high"}
    )
    url = f"/tickets/{created.json()['number']}"
    nulls = {"priority": None, "tier": None, "domain": None, "summary": None, "status": None}
    for body in ({"priority": None}, nulls):
        response = client.patch(url, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["priority"] == "high" and response.json()["domain"] == "internet"
    changed = client.patch(url, json={"priority": "urgent", "tier": None})
    assert changed.status_code == 200 and changed.json()["priority"] == "urgent"


def test_every_422_has_the_documented_detail_array(client: TestClient) -> None:
    # Refused by the schema, by a service (Invalid) and by a route (HTTPException).
    schema = client.post("/tickets", json={"domain": "plumbing", "title": "x"})
    assert_validation_shape(schema)
    service = client.post(
        "/outages",
        json={
            "service_area": "berlin-mitte",
            "description": "Fibre cut",
            "starts_at": "2026-12-01T10:00:00Z",
            "expected_end": "2026-12-01T09:00:00Z",
        },
    )
    assert "after the start" in assert_validation_shape(service)[0]["msg"]
    route = client.post(
        "/agents", json={"email": "no-at-sign", "name": "X", "password": "long enough password"}
    )
    assert "e-mail" in assert_validation_shape(route)[0]["msg"].lower()
