"""`python -m benchmarks serving` in a short form: Locust against the in-process API and a real local Ray Serve,
a replica killed during load, a short soak, batching on and off; every row printed with its goal."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.serving import run

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="Ray Serve is in requirements-serve.txt (the dev set installs it)")
# Locust runs as its own process: importing it here would let gevent patch this one (ssl recursion)
if importlib.util.find_spec("locust") is None:
    pytest.skip("Locust is in requirements-serve.txt (the dev set installs it)", allow_module_level=True)


def test_serving_benchmark_prints_every_figure_with_its_goal(capsys: pytest.CaptureFixture[str]) -> None:
    run(data_dir=None, repeats=1, seconds=3, soak_s=3, users=(1, 4), routes=("toxicity",))
    out = capsys.readouterr().out
    labels = (
        *("in-process API: toxicity, 1 users", "in-process API: toxicity, 4 users", "Ray Serve: toxicity, 4 users"),
        *("Ray Serve, no batching: toxicity, 4 users", "replica killed during load", "soak 3 s, toxicity"),
        *("soak: serving processes' memory drift", "toxicity throughput at 4 users, batching on / off"),
        "the most batching can give here (Amdahl)",
        *("Ray Serve, direct (one hop): toxicity, 4 users", "direct: replica killed during load"),
    )
    for label in labels:
        line = next((row for row in out.splitlines() if row.startswith(label)), None)
        assert line is not None, f"no row {label!r}"
    assert " req/s " in out and "(goal: zero errors, p95 <= 300 ms)" in out and "(goal: >= 2x)" in out
    killed = next(row for row in out.splitlines() if row.startswith("replica killed"))
    assert "two replicas again after" in killed
    bound = next(row for row in out.splitlines() if row.startswith("the most batching can give"))
    assert "ms serving CPU per request -> at most" in bound
