"""Every HTTP response, errors included, carries the browser security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security_headers import SECURITY_HEADERS
from tests.conftest import make_settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/docs", 200),
        ("GET", "/health", 503),  # Rasa is not running here
        ("GET", "/customers", 401),
        ("GET", "/no/such/page", 404),
        ("POST", "/webhook", 401),
    ],
)
def test_headers_on_every_response(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("path", ["/console", "/analytics"])
def test_staff_pages_allow_only_our_own_code_and_no_frames(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_are_never_framed(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_demo_page_leaves_its_policy_to_the_embedding_site(client: TestClient) -> None:
    response = client.get("/")
    assert "Content-Security-Policy" not in response.headers
    assert "X-Frame-Options" not in response.headers
