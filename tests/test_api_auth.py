"""PORTAL_API_KEYS: when keys are set, every route but the health checks wants `Authorization: Bearer <key>`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import auth
from api.app import create_app
from services.registry import Registry

KEYS = ("first-key-0123456789", "second-key-abcdefghij")


@pytest.fixture(scope="module")
def client(committed_registry: Registry) -> Iterator[TestClient]:
    with TestClient(create_app(committed_registry, api_keys=KEYS)) as c:
        yield c


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer wrong-key", "Basic first-key-0123456789", f"Bearer {KEYS[0]}x", f"Bearer {KEYS[0][:-1]}"],
)
def test_without_a_valid_key_every_route_is_401(client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, route in (("GET", "/v1/models"), ("GET", "/v1/style/styles"), ("POST", "/v1/toxicity/classify")):
        response = client.request(method, route, headers=headers, json={"texts": ["hi"]})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized" and "PORTAL_API_KEYS" in response.json()["detail"]


def test_any_configured_key_opens_the_routes_and_health_stays_open(client: TestClient) -> None:
    for key in KEYS:
        response = client.post(
            "/v1/toxicity/classify", json={"texts": ["hi"]}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_keys_come_from_the_environment() -> None:
    assert auth.keys_from_env({"PORTAL_API_KEYS": " a , ,b "}) == ("a", "b")
    assert auth.keys_from_env({}) == ()
