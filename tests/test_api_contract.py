"""Contract tests of the HTTP API (FastAPI's TestClient, the committed models): every route's answer has its
documented shape and equals the in-process service call on the same input; bad input is a 4xx JSON error."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from services import books, detection, housing, segmentation, style, textgen, toxicity
from services.registry import Registry
from services.samples import SAMPLES_DIR, load_sample
from services.settings import parse_providers

ASTRONAUT = (SAMPLES_DIR / "astronaut.jpg").read_bytes()
DISTRICT = {"longitude": -122.23, "latitude": 37.88, "housing_median_age": 41.0, "total_rooms": 880.0,
            "total_bedrooms": 129.0, "population": 322.0, "households": 126.0, "median_income": 8.3252,
            "ocean_proximity": "NEAR BAY"}  # fmt: skip


@pytest.fixture(scope="module")
def client(committed_registry: Registry) -> Iterator[TestClient]:
    with TestClient(create_app(committed_registry, api_keys=())) as c:
        yield c


def _error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    data = response.json()
    assert set(data) == {"error", "detail", "status"} and data["status"] == status and data["detail"]
    for word in words:
        assert word in data["detail"], data["detail"]
    return data


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


# ---- housing


def test_housing_predict_matches_the_service(client: TestClient, committed_registry: Registry) -> None:
    response = client.post("/v1/housing/predict", json={"districts": [DISTRICT, {"ocean_proximity": "INLAND"}]})
    assert response.status_code == 200, response.text
    data = response.json()
    frame = pd.DataFrame(
        [DISTRICT, {"ocean_proximity": "INLAND"}], columns=[*housing.NUMERIC_COLUMNS, "ocean_proximity"]
    )
    expected = housing.predict(frame.astype({c: float for c in housing.NUMERIC_COLUMNS}), registry=committed_registry)
    assert [p["price"] for p in data["predictions"]] == pytest.approx(expected.price, abs=0.01)
    assert all(p["lower_80"] <= p["price"] <= p["upper_80"] for p in data["predictions"])
    assert data["provider"] == "CPUExecutionProvider" and data["ms"] > 0


def test_housing_csv_in_csv_out(client: TestClient) -> None:
    text = ",".join(DISTRICT) + "\n" + ",".join(str(v) for v in DISTRICT.values()) + "\n"
    response = client.post("/v1/housing/predict.csv", files={"file": ("d.csv", text.encode(), "text/csv")})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(response.text))
    assert list(table.columns[-3:]) == ["predicted", "lower_80", "upper_80"] and len(table) == 1


def test_housing_bad_input(client: TestClient) -> None:
    _error(client.post("/v1/housing/predict", json={"districts": []}), 422, "districts")
    _error(client.post("/v1/housing/predict", json={"districts": [{**DISTRICT, "ocean_proximity": "MOON"}]}), 422)
    _error(client.post("/v1/housing/predict", json={"districts": [{**DISTRICT, "rooms": 3}]}), 422, "rooms")
    _error(client.post("/v1/housing/predict.csv", files={"file": ("d.csv", b"a,b\n1,2\n")}), 422, "column")
    _error(client.post("/v1/housing/predict.csv"), 422, "file")


# ---- books


def test_books_search_recommend_similar(client: TestClient, committed_registry: Registry) -> None:
    found = client.get("/v1/books/search", params={"q": "da vinci code", "top_k": 3}).json()
    assert found[0]["book"]["title"] == "The Da Vinci Code" and len(found) <= 3
    assert found[0]["book"]["cover_urls"][1].startswith("https://covers.openlibrary.org/b/isbn/")
    ratings = {"The Da Vinci Code": 10, "Life of Pi": 9}
    data = client.post("/v1/books/recommend", json={"ratings": ratings, "top_k": 4}).json()
    expected = books.recommend(ratings, top_k=4, registry=committed_registry)
    assert [i["book"]["title"] for i in data["items"]] == [i.book.title for i in expected.items]
    assert all(i["because"] in ratings for i in data["items"])
    similar = client.get("/v1/books/similar", params={"title": "The Da Vinci Code", "top_k": 5}).json()
    assert len(similar["items"]) == 5 and similar["items"][0]["book"]["title"] != "The Da Vinci Code"


def test_books_unknown_title_is_404_and_bad_values_422(client: TestClient) -> None:
    _error(client.get("/v1/books/similar", params={"title": "No Such Book Ever Written"}), 404, "Unknown title")
    _error(client.post("/v1/books/recommend", json={"ratings": {"The Da Vinci Code": 11}}), 422, "rating")
    _error(client.get("/v1/books/search", params={"q": "x", "top_k": 0}), 422, "top_k")


# ---- toxicity


def test_toxicity_one_and_many(client: TestClient, committed_registry: Registry) -> None:
    one = client.post("/v1/toxicity/classify", json={"texts": ["You are a pathetic idiot."]}).json()
    expected = toxicity.classify("You are a pathetic idiot.", registry=committed_registry)
    assert one["results"][0]["score"] == pytest.approx(expected.score, abs=1e-6) and one["encoder"] == "fp32"
    assert set(one["results"][0]["probabilities"]) == set(toxicity.HEADS)
    many = client.post("/v1/toxicity/classify", json={"texts": ["thanks!", "", "idiot"], "threshold": 0.4}).json()
    assert many["encoder"] in ("int8", "fp32") and [r["toxic"] for r in many["results"]][1] is None
    assert many["results"][2]["toxic"] is True and many["results"][0]["toxic"] is False
    why = client.post("/v1/toxicity/explain", json={"text": "you pathetic idiot"}).json()
    assert [w["word"] for w in why["words"]] == ["you", "pathetic", "idiot"]


def test_toxicity_bad_input(client: TestClient) -> None:
    _error(client.post("/v1/toxicity/classify", json={"texts": [""]}), 422, "empty")
    _error(client.post("/v1/toxicity/classify", json={"texts": ["x"], "head": "nope"}), 422, "head")
    _error(client.post("/v1/toxicity/classify", json={"texts": ["x" * 10_001]}), 413, "limit")


# ---- textgen


def _sse(text: str) -> tuple[str, dict]:
    chunks, done = [], None
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        if lines.get("event") == "done":
            done = json.loads(lines["data"])
        else:
            chunks.append(json.loads(lines["data"])["text"])
    assert done is not None, "no 'done' event"
    return "".join(chunks), done


def test_textgen_json_and_stream_give_the_same_seeded_text(client: TestClient, committed_registry: Registry) -> None:
    request = {"prompt": "ROMEO:\n", "max_new_tokens": 120, "temperature": 0.7, "seed": 3}
    plain = client.post("/v1/textgen/generate", json=request).json()
    assert plain["text"] == textgen.generate("ROMEO:\n", max_new_tokens=120, temperature=0.7, seed=3,
                                             registry=committed_registry)  # fmt: skip
    with client.stream("POST", "/v1/textgen/generate", json={**request, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        streamed, done = _sse(response.read().decode())
    assert streamed == plain["text"] and done["seed"] == 3


def test_textgen_names(client: TestClient) -> None:
    sampled = client.post("/v1/textgen/names", json={"count": 5, "prefix": "Tyr", "seed": 1}).json()
    assert len(sampled) == 5 and all(n["name"].lower().startswith("tyr") for n in sampled)
    beam = client.post("/v1/textgen/names", json={"method": "beam", "count": 3, "beam_width": 8}).json()
    assert len(beam) == 3 and beam[0]["probability"] >= beam[-1]["probability"]
    _error(client.post("/v1/textgen/names", json={"method": "beam", "count": 9, "beam_width": 8}), 422, "beam_width")
    _error(client.post("/v1/textgen/generate", json={"model": "poems"}), 422, "model")


# ---- vision


def test_style_styles_and_restyle(client: TestClient, committed_registry: Registry) -> None:
    listed = client.get("/v1/style/styles").json()
    assert [s["name"] for s in listed] == list(style.STYLES) and all(s["ready"] for s in listed)
    files = {"image": ("a.jpg", ASTRONAUT, "image/jpeg")}
    out = _png(client.post("/v1/style", files=files, data={"style": "great_wave", "max_side": 256}))
    expected = style.stylize(load_sample("astronaut"), "great_wave", max_side=256, registry=committed_registry)
    assert out.shape == expected.image.shape and np.abs(out.astype(int) - expected.image).max() <= 1
    mixed = _png(client.post("/v1/style", files=files, data={"style": "udnie", "mix_with": "the_scream", "mix": 0.5,
                                                              "max_side": 256}))  # fmt: skip
    assert mixed.shape == out.shape
    _error(client.post("/v1/style", files=files, data={"style": "mona_lisa"}), 404, "Unknown style")
    _error(client.post("/v1/style", files=files, data={"strength": 2}), 422, "strength")


def test_detection_json_and_png(client: TestClient, committed_registry: Registry) -> None:
    files = {"image": ("a.jpg", ASTRONAUT, "image/jpeg")}
    data = client.post("/v1/detection", files=files, data={"confidence": 0.5}).json()
    expected = detection.detect(load_sample("astronaut"), confidence=0.5, registry=committed_registry)
    assert [d["label"] for d in data["detections"]] == expected.labels() and (data["width"], data["height"]) == (
        512,
        512,
    )
    assert np.allclose([d["box"] for d in data["detections"]], expected.boxes, atol=0.01)
    assert _png(client.post("/v1/detection", files=files, data={"format": "png"})).shape == (512, 512, 3)
    _error(client.post("/v1/detection", files=files, data={"model": "yolo9000"}), 404, "unknown detector")


def test_segmentation_mask_and_effects(client: TestClient, committed_registry: Registry) -> None:
    files = {"image": ("a.jpg", ASTRONAUT, "image/jpeg")}
    mask = _png(client.post("/v1/segmentation", files=files))
    expected = segmentation.segment(load_sample("astronaut"), registry=committed_registry)
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 255}
    assert np.mean((mask == 255) == expected.mask) > 0.999
    removed = _png(client.post("/v1/segmentation", files=files, data={"output": "effect", "effect": "remove"}))
    assert removed.shape == (512, 512, 4)
    _error(client.post("/v1/segmentation", files=files, data={"output": "effect", "effect": "sparkle"}), 422, "effect")


def test_images_too_large_or_not_images(client: TestClient) -> None:
    _error(client.post("/v1/detection", files={"image": ("a.txt", b"hello", "text/plain")}), 422, "not an image")
    _error(client.post("/v1/style", files={"image": ("big.jpg", b"\xff" * (20 * 2**20 + 1), "image/jpeg")}), 413)
    _error(client.post("/v1/segmentation"), 422, "image")


# ---- models, health, errors


def test_models_health_and_unknown_routes(client: TestClient) -> None:
    listed = client.get("/v1/models").json()
    assert len(listed) == 11 and all(m["ready"] and len(m["sha256"]) == 64 for m in listed)
    assert any(m["headline"] and m["headline"].startswith("test RMSE $") for m in listed)
    assert client.get("/healthz").json() == {"status": "ok"} and client.get("/readyz").status_code == 200
    _error(client.get("/v1/nothing"), 404, "/docs")
    _error(client.get("/v1/housing/predict"), 405)
    assert "/v1/style" in client.get("/openapi.json").json()["paths"]


def test_a_missing_model_is_a_503_with_the_rebuild_command(tmp_path: Path) -> None:
    with TestClient(create_app(Registry(tmp_path, parse_providers("cpu")), api_keys=())) as empty:
        _error(empty.post("/v1/housing/predict", json={"districts": [DISTRICT]}), 503, "python -m training housing")
        _error(empty.post("/v1/toxicity/classify", json={"texts": ["hi"]}), 503, "python -m training toxicity")
        ready = empty.get("/readyz")
        assert ready.status_code == 503 and set(ready.json()["problems"]) == {"housing", "books", "toxicity",
                                                                                 "textgen", "style", "detection",
                                                                                 "segmentation"}  # fmt: skip
        assert not any(m["ready"] for m in empty.get("/v1/models").json())


def test_server_timing_splits_the_service_from_the_api(client: TestClient) -> None:
    response = client.post("/v1/toxicity/classify", json={"texts": ["hello there"]})
    timing = dict(part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
    assert 0 < float(timing["service"]) <= float(timing["app"])
    assert "service;dur=0.000" in client.get("/healthz").headers["server-timing"]
