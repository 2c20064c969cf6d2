"""`python -m benchmarks serving`: the API under load, in-process (uvicorn) and on Ray Serve, measured with Locust.

Locust (headless, on loopback only) runs 1, 8 and 32 users calling one route back to back for RUN_S seconds each:
toxicity classify, detection and housing predict; on the in-process API (`python -m api`) and on a local Ray
Serve (`serving.ray_app`, 2 CPUs, the default layout: the root ingress forwards and retries), with the toxicity
encoder's batching on and off. Then, on Ray Serve with two toxicity replicas, a replica is killed during load (failed
requests, seconds until two replicas serve again), and a soak of SOAK_S at 8 users reports errors and the drift of
the serving processes' memory. Last, the direct layout (each demo its own application, one hop) at the top load and
with a replica killed, for the trade-off. Every figure is printed
next to its goal. Machines differ: the figures here are a 2-core VM's, load generator included.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.api import api_server
from benchmarks.common import Row, print_table
from benchmarks.portal import free_port
from services.settings import ROOT

USERS = (1, 8, 32)
ROUTES = ("toxicity", "detection", "housing")
RUN_S = 20
SOAK_S = 300
GOAL_P95_MS = 300.0
GOAL_BATCH_SPEEDUP = 2.0
GOAL_MEMORY_DRIFT = 0.10
LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"


@dataclass(frozen=True)
class Load:
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


def locust(host: str, route: str, users: int, seconds: float) -> Load:
    """One headless Locust run; its aggregated figures."""
    with tempfile.TemporaryDirectory(prefix="locust-") as folder:
        prefix = str(Path(folder) / "run")
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r",
                   str(users), "--run-time", f"{max(1, round(seconds))}s", "--host", host, "--csv", prefix,
                   "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "10"]  # fmt: skip
        env = {**os.environ, "PORTAL_LOAD_ROUTE": route}
        subprocess.run(command, env=env, cwd=ROOT, check=False, capture_output=True, timeout=seconds + 120)
        with open(f"{prefix}_stats.csv", newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    number = float
    return Load(int(row["Request Count"]), int(row["Failure Count"]), number(row["Requests/s"]), number(row["50%"]),
                number(row["95%"]), number(row["99%"]))  # fmt: skip


@contextlib.contextmanager
def ray_serve(*, batching: bool, toxicity_replicas: int = 1, direct: bool = False) -> Iterator[str]:
    """A local Ray (2 CPUs) with the application; its URL."""
    import ray
    from ray import serve

    os.environ["PORTAL_PROVIDERS"] = "cpu"
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        from serving.ray_app import GROUPS, GroupSettings, run

        common = {"num_cpus": 0.2, "batching": batching, "direct": direct}
        groups = {slug: GroupSettings(min_replicas=1, max_replicas=2, **common) for slug in GROUPS}
        groups["toxicity"] = GroupSettings(min_replicas=toxicity_replicas, max_replicas=max(2, toxicity_replicas),
                                           **common)  # fmt: skip
        run(groups)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def _load_rows(backend: str, host: str, routes: tuple[str, ...], users: tuple[int, ...], seconds: float) -> list:
    rows, found = [], {}
    for route in routes:
        for count in users:
            load = locust(host, route, count, seconds)
            found[(route, count)] = load
            value = (f"{load.rps:6.1f} req/s  p50 {load.p50:5.0f}  p95 {load.p95:5.0f}  p99 {load.p99:5.0f} ms  "
                     f"{load.failures} errors / {load.requests}")  # fmt: skip
            goal, met = "", None
            if count == max(users):
                goal = "zero errors" + (f", p95 <= {GOAL_P95_MS:.0f} ms" if route in ("toxicity", "housing") else "")
                met = load.failures == 0 and (route not in ("toxicity", "housing") or load.p95 <= GOAL_P95_MS)
            rows.append(Row(f"{backend}: {route}, {count} users", value, goal, met))
            print(f"  {backend} {route} {count} users: {value}", flush=True)
    return rows, found


def _ray_processes() -> list:
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if any("ray::" in part for part in process.info["cmdline"] or []):
                found.append(process)
    return found


def _serving_rss() -> int:
    """Resident memory of the Ray Serve processes (replicas, proxy, controller)."""
    total = 0
    for process in _ray_processes():
        with contextlib.suppress(Exception):
            total += process.memory_info().rss
    return total


def _serving_cpu_s() -> float:
    """CPU seconds the Ray Serve processes have used so far."""
    total = 0.0
    for process in _ray_processes():
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _batching_bound(host: str, seconds: float, users: int) -> Row:
    """The most batching can give (Amdahl): the encoder time batching saves per request (one comment alone vs a
    row of a batch of MAX_BATCH, measured here in-process) against the serving processes' CPU per request."""
    import numpy as np

    from benchmarks.common import median_ms
    from services.registry import default_registry
    from serving.ray_app import MAX_BATCH

    encoder = default_registry().load("toxicity/encoder")
    ids = np.random.default_rng(0).integers(1000, 20000, size=(1, 16)).astype(np.int64)
    many = np.repeat(ids, MAX_BATCH, axis=0)
    alone = median_ms(lambda: encoder.run({"input_ids": ids, "attention_mask": np.ones_like(ids)}), repeats=30)
    batched = median_ms(lambda: encoder.run({"input_ids": many, "attention_mask": np.ones_like(many)}), repeats=10)
    saved = max(alone - batched / MAX_BATCH, 0.0)
    before = _serving_cpu_s()
    load = locust(host, "toxicity", users, seconds)
    per_request = (_serving_cpu_s() - before) * 1000 / max(load.requests, 1)
    bound = per_request / max(per_request - saved, 1e-9)
    value = (f"encoder {alone:.1f} ms alone, {batched / MAX_BATCH:.1f} ms a row of {MAX_BATCH}: saves {saved:.1f} of "
             f"{per_request:.1f} ms serving CPU per request -> at most {bound:.2f}x")  # fmt: skip
    return Row("the most batching can give here (Amdahl)", value, f">= {GOAL_BATCH_SPEEDUP:.0f}x possible",
               bound >= GOAL_BATCH_SPEEDUP)  # fmt: skip


def _kill_a_replica(host: str, seconds: float, label: str = "") -> Row:
    """Kill one of two toxicity replicas while 8 users call it; failures and the time until two serve again."""
    import ray
    from ray import serve

    result: dict[str, Load] = {}
    runner = threading.Thread(target=lambda: result.setdefault("load", locust(host, "toxicity", 8, seconds)))
    runner.start()
    time.sleep(seconds / 3)
    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if "models_toxicity" in a["name"]]
    victim = ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"])
    killed = time.monotonic()
    ray.kill(victim, no_restart=True)
    recovered = None
    before = {a["name"] for a in replicas}
    while time.monotonic() - killed < 120:  # the controller notices the loss and starts a replacement replica
        names = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "models_toxicity" in a["name"]}
        found = [a.deployments["models_toxicity"] for a in serve.status().applications.values()
                 if "models_toxicity" in a.deployments]  # fmt: skip
        states = found[0].replica_states if found else {}
        if names - before and replicas[0]["name"] not in names and dict(states) == {"RUNNING": 2}:
            recovered = time.monotonic() - killed  # the replacement has started and both replicas serve
            break
        time.sleep(0.2)
    runner.join()
    load = result["load"]
    back = "not within 120 s" if recovered is None else f"{recovered:.1f} s"
    victim_name = replicas[0]["name"].split("#")[-1]
    value = f"{load.failures} failed of {load.requests}; killed {victim_name}, two replicas again after {back}"
    return Row(f"{label}replica killed during load (toxicity, 8 users, 2 replicas)", value, "zero failed requests",
               load.failures == 0)  # fmt: skip


def _soak(host: str, seconds: float) -> list[Row]:
    before = _serving_rss()
    load = locust(host, "toxicity", 8, seconds)
    after = _serving_rss()
    drift = (after - before) / before if before else 0.0
    errors = f"{load.failures} errors / {load.requests}, p95 {load.p95:.0f} ms"
    memory = f"{before / 2**20:.0f} -> {after / 2**20:.0f} MB ({drift:+.1%})"
    return [
        Row(f"soak {seconds:.0f} s, toxicity, 8 users", errors, "zero errors", load.failures == 0),
        Row("soak: serving processes' memory drift", memory, f"<= {GOAL_MEMORY_DRIFT:.0%}", drift <= GOAL_MEMORY_DRIFT),
    ]


def run(data_dir: Path, repeats: int, *, seconds: float = RUN_S, soak_s: float = SOAK_S, users: tuple[int, ...] = USERS,
        routes: tuple[str, ...] = ROUTES) -> None:  # fmt: skip
    del data_dir, repeats  # the committed models and bundled inputs; Locust's duration sets the sample size
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_API_KEYS": ""}
    rows: list[Row] = []
    with api_server(env) as port:
        rows += _load_rows("in-process API", f"http://127.0.0.1:{port}", routes, users, seconds)[0]
    with ray_serve(batching=True, toxicity_replicas=2) as host:
        batched_rows, batched = _load_rows("Ray Serve", host, routes, users, seconds)
        rows += batched_rows
        rows.append(_batching_bound(host, max(seconds / 2, 5), max(users)))
        rows.append(_kill_a_replica(host, max(seconds, 15)))
        rows += _soak(host, soak_s)
    with ray_serve(batching=False, toxicity_replicas=2) as host:
        plain_rows, plain = _load_rows("Ray Serve, no batching", host, ("toxicity",), (max(users),), seconds)
        rows += plain_rows
    with ray_serve(batching=True, toxicity_replicas=2, direct=True) as host:
        direct = tuple(r for r in ("toxicity", "housing") if r in routes)
        rows += _load_rows("Ray Serve, direct (one hop)", host, direct, (max(users),), seconds)[0]
        rows.append(_kill_a_replica(host, max(seconds, 15), "direct: "))
    top = max(users)
    speedup = batched[("toxicity", top)].rps / max(plain[("toxicity", top)].rps, 1e-9)
    rows.append(Row(f"toxicity throughput at {top} users, batching on / off", f"{speedup:.2f}x",
                    f">= {GOAL_BATCH_SPEEDUP:.0f}x", speedup >= GOAL_BATCH_SPEEDUP))  # fmt: skip
    print_table(f"Under load: Locust on loopback, {seconds:.0f} s per run, 2-core CPU (load generator included)", rows)
