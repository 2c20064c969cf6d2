"""Garbage at every route of the HTTP API (Hypothesis): random JSON bodies, raw bytes, files, form and query
values and headers. Only a 2xx or a 4xx with a JSON body that names the problem may come back; a 5xx is a defect.
The number of cases tried is printed (`pytest -s`) and counted in GARBAGE_CASES."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from services.registry import Registry
from services.samples import SAMPLES_DIR

JSON_ROUTES = ("/v1/housing/predict", "/v1/books/recommend", "/v1/toxicity/classify", "/v1/toxicity/explain",
               "/v1/textgen/generate", "/v1/textgen/names")  # fmt: skip
FILE_ROUTES = ("/v1/style", "/v1/detection", "/v1/segmentation", "/v1/housing/predict.csv")
GET_ROUTES = ("/v1/books/search", "/v1/books/similar", "/v1/style/styles", "/v1/models")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
COUNTED: list[int] = []
SMALL_PNG = (SAMPLES_DIR / "chelsea.jpg").read_bytes()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Field names the routes really read, so that garbage reaches the services, not only the validators.
FIELDS = (
    *("districts", "ratings", "top_k", "texts", "text", "head", "threshold", "prompt", "model", "max_new_tokens"),
    *("temperature", "top_p", "seed", "stream", "method", "count", "prefix", "beam_width", "ocean_proximity"),
)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values
TRICKY = (
    "0",
    "1",
    "-1",
    "1e309",
    "nan",
    "true",
    "json",
    "png",
    "mask",
    "effect",
    "blur",
    "remove",
    "own_yolo",
    "udnie",
)
form_values = st.text(max_size=20) | st.sampled_from([*TRICKY, "#zzz"])
forms = st.dictionaries(
    st.sampled_from(["style", "mix_with", "mix", "strength", "keep_colours", "max_side", "model", "confidence", "iou",
                     "format", "output", "effect", "colour", "blur_radius", "opacity", "softness"]),
    form_values,
    max_size=5,
)  # fmt: skip
files = st.binary(max_size=300) | st.just(SMALL_PNG) | st.builds(lambda b: SMALL_PNG[: len(SMALL_PNG) // 2] + b,
                                                                  st.binary(max_size=40))  # fmt: skip
headers = st.dictionaries(
    st.sampled_from(["content-type", "authorization", "accept", "x-anything"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    max_size=2,
)


@pytest.fixture(scope="module")
def client(committed_registry: Registry) -> Iterator[TestClient]:
    with TestClient(create_app(committed_registry, api_keys=()), raise_server_exceptions=False) as c:
        yield c
    print(f"\ngarbage cases tried: {sum(COUNTED)}")


def _check(response) -> None:
    COUNTED.append(1)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        data = response.json()
        assert data["status"] == response.status_code and data["error"] and len(data["detail"]) > 10


@SETTINGS
@given(route=st.sampled_from(JSON_ROUTES), body=bodies, extra=headers)
def test_json_routes_take_any_json(client: TestClient, route: str, body: object, extra: dict) -> None:
    # encoded by hand: Python's json writes NaN and Infinity, as some clients do, which httpx's encoder refuses
    extra = {**{k: v for k, v in extra.items() if k != "content-type"}, "content-type": "application/json"}
    _check(client.post(route, content=json.dumps(body).encode(), headers=extra))


@SETTINGS
@given(route=st.sampled_from(JSON_ROUTES + FILE_ROUTES), raw=st.binary(max_size=200), extra=headers)
def test_every_post_route_takes_raw_bytes(client: TestClient, route: str, raw: bytes, extra: dict) -> None:
    _check(client.post(route, content=raw, headers=extra))


@SETTINGS
@given(route=st.sampled_from(FILE_ROUTES), data=files, form=forms, field=st.sampled_from(["image", "file", "other"]))
def test_file_routes_take_any_file_and_form(
    client: TestClient, route: str, data: bytes, form: dict, field: str
) -> None:
    _check(client.post(route, files={field: ("x.bin", data, "application/octet-stream")}, data=form))


@SETTINGS
@given(route=st.sampled_from(GET_ROUTES), params=st.dictionaries(st.sampled_from(["q", "title", "top_k", "x"]),
                                                                  form_values, max_size=3))  # fmt: skip
def test_get_routes_take_any_query(client: TestClient, route: str, params: dict) -> None:
    _check(client.get(route, params=params))
