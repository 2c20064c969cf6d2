"""The Open Inference Protocol (KServe v2): the codec, the v2 routes over the committed models, and the Registry's
remote mode, whose services give the in-process answers when their models run behind v2."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from services import books, housing, toxicity, v2
from services.errors import InvalidInputError
from services.registry import Registry
from services.settings import ROOT, parse_providers
from serving.v2_server import create_v2_app, served_keys

TENSORS = {
    "f": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "d": np.array([[1e-300, -2.5]]),
    "i": np.array([[-(2**40), 3]], dtype=np.int64),
    "b": np.array([True, False]),
    "s": np.array([["NEAR BAY", "ünï"], ["", "<1H OCEAN"]], dtype=object),
}


@pytest.mark.parametrize("binary", [True, False])
def test_codec_round_trips_every_datatype(binary: bool) -> None:
    body, headers = v2.encode_request(TENSORS, ["out"], binary=binary)
    feeds, outputs, wants_binary = v2.decode_request(body, headers.get(v2.HEADER_LENGTH))
    assert outputs == ["out"] and wants_binary is binary
    for name, value in TENSORS.items():
        assert feeds[name].shape == value.shape and (feeds[name] == value).all()
        assert feeds[name].dtype == value.dtype
    body, headers = v2.encode_response("m", "1", TENSORS, binary=binary)
    back = v2.decode_response(body, headers.get(v2.HEADER_LENGTH))
    assert all((back[k] == v).all() for k, v in TENSORS.items())


@pytest.mark.parametrize(
    ("body", "length", "words"),
    [
        (b"not json", None, "JSON header"),
        (b'{"inputs": []}', None, "non-empty list"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1]}]}', None, "1 values"),
        (b'{"inputs": [{"name": "x", "datatype": "FP99", "shape": [1], "data": [1]}]}', None, "datatype"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]}', None, "shape"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [100000, 100000, 100]}]}', None, "elements"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}]}xx',
         "100", "runs past"),
        (b"{}", "999", "header's length"),
    ],
)  # fmt: skip
def test_codec_refuses_bad_requests_with_a_reason(body: bytes, length: str | None, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        v2.decode_request(body, length)


@pytest.fixture(scope="module")
def client(committed_registry: Registry) -> Iterator[TestClient]:
    with TestClient(create_v2_app(committed_registry)) as c:
        yield c


class ClientTransport:
    """services.remote's HTTP transport, spoken through the test client (the Ray test uses the real one)."""

    where = "the test client"

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def metadata(self, key: str) -> dict:
        return self.client.get(f"/v2/models/{v2.model_name(key)}").json()

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        body, headers = v2.encode_request(feeds, outputs, binary=True)
        response = self.client.post(f"/v2/models/{v2.model_name(key)}/infer", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return v2.decode_response(response.content, response.headers.get(v2.HEADER_LENGTH))


def test_v2_metadata_ready_and_errors(client: TestClient) -> None:
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/toxicity__heads").json()
    assert meta["inputs"] == [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}]
    assert meta["parameters"]["providers"] == ["CPUExecutionProvider"]
    assert client.get("/v2/models/toxicity__heads/ready").json()["ready"] is True
    assert client.get("/v2/models/nope").status_code == 404
    bad = {"inputs": [{"name": "wrong", "datatype": "FP32", "shape": [1, 384], "data": [0.0] * 384}]}
    answer = client.post("/v2/models/toxicity__heads/infer", json=bad)
    assert answer.status_code == 400 and "takes inputs ['embedding']" in answer.json()["error"]
    assert len(served_keys()) == 11


@pytest.mark.parametrize("binary", [True, False])
def test_v2_infer_equals_onnxruntime_in_process(client: TestClient, committed_registry: Registry, binary: bool) -> None:
    embedding = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
    body, headers = v2.encode_request({"embedding": embedding}, [], binary=binary)
    answer = client.post("/v2/models/toxicity__heads/infer", content=body, headers=headers)
    outputs = v2.decode_response(answer.content, answer.headers.get(v2.HEADER_LENGTH))
    local = committed_registry.load("toxicity/heads").run({"embedding": embedding})
    assert set(outputs) == set(local)
    assert all(np.abs(outputs[k] - local[k]).max() <= 1e-5 for k in local)


def test_remote_registry_gives_the_services_the_same_answers(client: TestClient, committed_registry: Registry) -> None:
    remote = Registry(ROOT / "models", parse_providers("cpu"), remote=ClientTransport(client))
    district = pd.DataFrame(
        [{"longitude": -122.2, "latitude": 37.8, "median_income": 6.0, "ocean_proximity": "NEAR BAY"}]
    )
    frame = district.reindex(columns=[*housing.NUMERIC_COLUMNS, "ocean_proximity"])
    frame[list(housing.NUMERIC_COLUMNS)] = frame[list(housing.NUMERIC_COLUMNS)].astype(float)
    assert housing.predict(frame, registry=remote).price == pytest.approx(
        housing.predict(frame, registry=committed_registry).price
    )
    assert housing.predict(frame, registry=remote).provider == "remote CPUExecutionProvider"
    text = "you are a complete idiot"
    assert toxicity.classify(text, registry=remote).score == pytest.approx(
        toxicity.classify(text, registry=committed_registry).score, abs=1e-5
    )
    ratings = {"The Da Vinci Code": 10}
    assert [i.book.title for i in books.recommend(ratings, registry=remote).items] == [
        i.book.title for i in books.recommend(ratings, registry=committed_registry).items
    ]


def test_remote_mode_says_how_to_fix_an_unreachable_server(tmp_path: Path) -> None:
    from services.errors import ModelUnavailableError
    from services.remote import HttpTransport

    remote = Registry(ROOT / "models", parse_providers("cpu"), remote=HttpTransport("http://127.0.0.1:9"))
    with pytest.raises(ModelUnavailableError, match="make serve"):
        remote.load("housing/price")
    with pytest.raises(ModelUnavailableError, match="not an http"):
        HttpTransport("ftp://x")


def test_services_never_reuse_another_registrys_models(client: TestClient, committed_registry: Registry) -> None:
    """Loaded locally first, then through a remote registry in the same process: the remote one's own sessions."""
    from services import textgen

    assert toxicity.load(committed_registry).encoder_model.provider == "CPUExecutionProvider"
    assert textgen.load("dinosaurs", committed_registry).loaded.provider == "CPUExecutionProvider"
    remote = Registry(ROOT / "models", parse_providers("cpu"), remote=ClientTransport(client))
    assert toxicity.load(remote).encoder_model.provider == "remote CPUExecutionProvider"
    assert textgen.load("dinosaurs", remote).loaded.provider == "remote CPUExecutionProvider"
