"""A real local Ray Serve (no mocks): every demo's API route answers through the cluster, KServe v2 round-trips a
model's tensors over HTTP with the in-process answer, and a page runs with its models behind the cluster
(the Registry's remote mode, PORTAL_INFERENCE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import requests

from benchmarks.portal import free_port
from services import housing, v2
from services.registry import Registry
from services.remote import HttpTransport
from services.samples import SAMPLES_DIR
from services.settings import ROOT, parse_providers
from tests.helpers import open_app

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray Serve is in requirements-serve.txt (the dev set installs it)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from ray import serve

    os.environ["PORTAL_PROVIDERS"] = "cpu"
    ray.init(num_cpus=2, object_store_memory=150 * 2**20, include_dashboard=False, log_to_driver=False)
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        from serving.ray_app import GROUPS, GroupSettings, run

        small = {slug: GroupSettings(min_replicas=1, max_replicas=1, num_cpus=0.25) for slug in GROUPS}
        # housing as an application of its own (one hop); the others' routes go through the root ingress (default)
        small["housing"] = GroupSettings(min_replicas=1, max_replicas=1, num_cpus=0.25, direct=True)
        run(small)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_every_demo_answers_through_the_cluster(cluster: str) -> None:
    photo = {"image": ("c.jpg", (SAMPLES_DIR / "coffee.jpg").read_bytes(), "image/jpeg")}
    district = {"ocean_proximity": "INLAND", "median_income": 3.0}
    calls = [
        ("post", "/v1/housing/predict", {"json": {"districts": [district]}}),
        ("get", "/v1/books/search", {"params": {"q": "hobbit"}}),
        ("post", "/v1/toxicity/classify", {"json": {"texts": ["have a nice day", "idiot"]}}),
        ("post", "/v1/textgen/names", {"json": {"count": 3, "seed": 1}}),
        ("post", "/v1/style", {"files": photo, "data": {"style": "udnie", "max_side": 128}}),
        ("post", "/v1/detection", {"files": photo}),
        ("post", "/v1/segmentation", {"files": photo}),
    ]
    for method, route, kwargs in calls:
        answer = getattr(requests, method)(cluster + route, timeout=120, **kwargs)
        assert answer.status_code == 200, f"{route}: {answer.status_code} {answer.text[:300]}"
    models = requests.get(f"{cluster}/v1/models", timeout=120).json()
    assert len(models) == 11 and all(m["providers"] == ["remote CPUExecutionProvider"] for m in models)
    assert requests.get(f"{cluster}/v2/health/ready", timeout=120).json() == {"ready": True}


def test_v2_over_http_equals_in_process(cluster: str, committed_registry: Registry) -> None:
    transport = HttpTransport(cluster)
    embedding = np.random.default_rng(1).normal(size=(4, 384)).astype(np.float32)
    remote = transport.infer("toxicity/heads", {"embedding": embedding}, [])
    local = committed_registry.load("toxicity/heads").run({"embedding": embedding})
    assert all(np.abs(remote[k] - local[k]).max() <= 1e-5 for k in local)
    frame = pd.DataFrame(
        [{"ocean_proximity": "NEAR OCEAN", "median_income": 5.0, "latitude": 33.7, "longitude": -118.3}]
    )
    frame = frame.reindex(columns=[*housing.NUMERIC_COLUMNS, "ocean_proximity"])
    frame[list(housing.NUMERIC_COLUMNS)] = frame[list(housing.NUMERIC_COLUMNS)].astype(float)
    through = Registry(ROOT / "models", parse_providers("cpu"), remote=transport)
    assert housing.predict(frame, registry=through).price == pytest.approx(
        housing.predict(frame, registry=committed_registry).price, abs=1e-6
    )
    assert transport.metadata("housing/price")["inputs"][-1]["datatype"] == v2.BYTES


def test_a_page_runs_with_its_models_on_the_cluster(cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_INFERENCE_URL", cluster)
    at = open_app(monkeypatch, "toxicity")
    assert not at.error, [e.value for e in at.error]
    at.text_area(key="toxicity_text").input("you absolute idiot").run()
    assert not at.exception
    assert any("Toxic" in e.value for e in at.error)
    assert any("remote CPUExecutionProvider" in c.value for c in at.caption)


def test_batched_runs_equal_separate_runs(committed_registry: Registry) -> None:
    """Token ids of different lengths, padded to the longest and run as one: each row's embedding is its own."""
    from serving.ray_app import run_batched

    rng = np.random.default_rng(0)
    calls = []
    for length in (5, 17, 9):
        ids = rng.integers(1000, 20000, size=(1, length)).astype(np.int64)
        ids[0, 0] = 101
        calls.append(("toxicity/encoder", {"input_ids": ids, "attention_mask": np.ones_like(ids)}, []))
    calls.append(("toxicity/heads", {"embedding": rng.normal(size=(2, 384)).astype(np.float32)}, []))
    together = run_batched(committed_registry, calls)
    for call, result in zip(calls, together, strict=True):
        alone = committed_registry.load(call[0]).run(call[1])
        assert set(result) == set(alone)
        assert all(np.abs(result[k] - alone[k]).max() <= 1e-4 for k in alone)


def test_concurrent_requests_are_batched_with_the_same_answers(cluster: str, committed_registry: Registry) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ray import serve

    from services import toxicity

    texts = [f"comment number {i}: {'you idiot' if i % 3 == 0 else 'thanks a lot'}" for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda t: requests.post(f"{cluster}/v1/toxicity/classify", json={"texts": [t]},
                                                        timeout=120).json(), texts))  # fmt: skip
    for text, answer in zip(texts, answers, strict=True):
        local = toxicity.classify(text, registry=committed_registry).score
        assert abs(answer["results"][0]["score"] - local) <= 1e-4
    stats = serve.get_deployment_handle("models_toxicity", app_name="default").stats.remote().result()
    assert stats["max_batch"] > 1, stats


def test_the_kuberay_config_deploys_what_build_deploys() -> None:
    """serving/kuberay-rayservice.yaml lists the same applications (names, route prefixes) as `make serve`, and its
    application builders make the same deployments."""
    import yaml

    from serving import ray_app

    service = yaml.safe_load((ROOT / "serving" / "kuberay-rayservice.yaml").read_text())
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    listed = [(app["name"], app["route_prefix"]) for app in config["applications"]]
    assert listed == [(target.name, target.route_prefix) for target in ray_app.build()]
    for app in config["applications"]:
        builder = getattr(ray_app, app["import_path"].split(":")[1])
        assert builder(app["args"]) is not None
        assert app["runtime_env"]["env_vars"]["PORTAL_PROVIDERS"] == "cuda,cpu"
    assert ray_app.demo_app({"slug": "toxicity"}) is not None  # the builder the config's comment offers
