"""`python -m benchmarks api`: what the HTTP API adds to each demo's call.

A real `python -m api` (uvicorn, onnxruntime in its own process) answers over a kept-alive loopback connection
(http.client, the lightest client); this process calls the same service function on the same input, in the form a
caller has it (the district as a record, the photo as its file's bytes, decoded by services.inputs as the pages and
the API do). The two are timed in alternating blocks of BLOCK calls each, back to back as a script calling in a loop
would; medians over all calls. Their difference is the API's overhead, but on two cores it also holds the two
processes' onnxruntime thread pools getting in each other's way (they spin-wait for a moment after each run). So
the API's `Server-Timing` header (the time in the service call, measured inside the API process) gives the API's own
work: the client's total minus that service time (HTTP, validation, converting the result, encoding it). The goal
is judged on it, with the raw difference beside it. Goal for JSON endpoints: at most 2 ms plus the cost of encoding
the answer (json.dumps of it, timed here); image endpoints answer PNG, and their own work includes encoding it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import Row, print_table
from benchmarks.portal import free_port
from services import books, detection, housing, segmentation, style, textgen, toxicity
from services.inputs import read_image
from services.registry import Registry
from services.samples import SAMPLES_DIR
from services.settings import ROOT, load_settings, parse_providers

GOAL_OVERHEAD_MS = 2.0
MAX_REPEATS = 40
BLOCK = 5  # calls per block; the blocks alternate between the API and the in-process call
START_TIMEOUT_S = 90
DISTRICT = {"longitude": -118.24, "latitude": 34.05, "housing_median_age": 30.0, "total_rooms": 2000.0,
            "total_bedrooms": 400.0, "population": 1100.0, "households": 380.0, "median_income": 4.5,
            "ocean_proximity": "<1H OCEAN"}  # fmt: skip
COMMENTS = [
    "Thanks, that was helpful!",
    "You are an idiot.",
    "I disagree with the second point.",
    "What a load of rubbish",
]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    route: str
    body: bytes | None
    content_type: str | None
    in_process: Callable[[], object]
    json_answer: bool


def _multipart(fields: dict[str, str], image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
                 "Content-Type: image/jpeg\r\n\r\n".encode() + image + b"\r\n")  # fmt: skip
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _json(method: str, route: str, payload: object | None, name: str, call: Callable[[], object]) -> Case:
    body = None if payload is None else json.dumps(payload).encode()
    return Case(name, method, route, body, "application/json" if body else None, call, True)


def cases(reg: Registry) -> list[Case]:
    def frame(rows: int) -> pd.DataFrame:
        return pd.DataFrame([DISTRICT] * rows)

    ratings = {"The Da Vinci Code": 10, "Life of Pi": 9}
    batch = COMMENTS * 8
    photo_bytes = (SAMPLES_DIR / "astronaut.jpg").read_bytes()

    def photo() -> np.ndarray:
        return read_image(photo_bytes)

    style_body = _multipart({"style": "starry_night", "max_side": "384"}, photo_bytes)
    detect_body = _multipart({"confidence": "0.3"}, photo_bytes)
    segment_body = _multipart({"output": "mask"}, photo_bytes)
    return [
        _json("POST", "/v1/housing/predict", {"districts": [DISTRICT]}, "housing predict, 1 district",
              lambda: housing.predict(frame(1), registry=reg)),
        _json("POST", "/v1/housing/predict", {"districts": [DISTRICT] * 100}, "housing predict, 100 districts",
              lambda: housing.predict(frame(100), registry=reg)),
        _json("GET", "/v1/books/search?q=da+vinci&top_k=8", None, "books search",
              lambda: books.search("da vinci", top_k=8, registry=reg)),
        _json("POST", "/v1/books/recommend", {"ratings": ratings, "top_k": 10}, "books recommend",
              lambda: books.recommend(ratings, top_k=10, registry=reg)),
        _json("POST", "/v1/toxicity/classify", {"texts": [COMMENTS[1]]}, "toxicity classify, 1 comment",
              lambda: toxicity.classify(COMMENTS[1], registry=reg)),
        _json("POST", "/v1/toxicity/classify", {"texts": batch}, "toxicity classify, 32 comments",
              lambda: toxicity.classify_many(batch, registry=reg)),
        _json("POST", "/v1/textgen/generate", {"prompt": "ROMEO:\n", "max_new_tokens": 200, "seed": 1},
              "textgen generate, 200 characters",
              lambda: textgen.generate("ROMEO:\n", max_new_tokens=200, seed=1, registry=reg)),
        _json("POST", "/v1/textgen/names", {"count": 10, "seed": 1}, "textgen names, 10 sampled",
              lambda: textgen.sample_names(10, seed=1, registry=reg)),
        Case("detection, JSON boxes", "POST", "/v1/detection", *detect_body,
             lambda: detection.detect(photo(), registry=reg), True),
        Case("style, 384 px PNG", "POST", "/v1/style", *style_body,
             lambda: style.stylize(photo(), "starry_night", max_side=384, registry=reg), False),
        Case("segmentation, mask PNG", "POST", "/v1/segmentation", *segment_body,
             lambda: segmentation.segment(photo(), registry=reg), False),
    ]  # fmt: skip


@contextlib.contextmanager
def api_server(env: dict[str, str]) -> Iterator[int]:
    """`python -m api` on a free port until healthy; always stopped afterwards."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-m", "api", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the API did not start:\n{log.read().decode()[-2000:]}")
                with contextlib.suppress(OSError):
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        connection.close()
                        break
                time.sleep(0.3)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=15)


def _call(connection: http.client.HTTPConnection, case: Case) -> tuple[bytes, float]:
    """The answer, and the service milliseconds its Server-Timing header reports."""
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    connection.request(case.method, case.route, body=case.body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{case.name}: HTTP {response.status}: {data[:300]!r}")
    timing = dict(
        part.strip().split(";dur=") for part in (response.getheader("server-timing") or "").split(",") if part
    )
    return data, float(timing.get("service", "nan"))


def _encode_ms(answer: bytes, repeats: int) -> float:
    """Median ms to json.dumps the answer's content (what encoding it costs in Python)."""
    value = json.loads(answer)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        json.dumps(value)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


@dataclass(frozen=True)
class Measured:
    api_ms: float  # the client's total, median
    local_ms: float  # the same service call in this process, median
    own_ms: float  # the API's own work: the client's total minus the service time inside the API process, median
    size: int  # answer bytes
    encode_ms: float  # json.dumps of the answer, median (JSON answers only)


def measure(case: Case, connection: http.client.HTTPConnection, repeats: int) -> Measured:
    """Medians of alternating blocks of API calls and in-process calls."""
    answer = b""
    for _ in range(3):
        answer, _service = _call(connection, case)
        case.in_process()
    api: list[float] = []
    own: list[float] = []
    local: list[float] = []
    while len(api) < repeats:
        for _ in range(BLOCK):
            start = time.perf_counter()
            _answer, service_ms = _call(connection, case)
            api.append((time.perf_counter() - start) * 1000)
            own.append(api[-1] - service_ms)
        for _ in range(BLOCK):
            start = time.perf_counter()
            case.in_process()
            local.append((time.perf_counter() - start) * 1000)
    encode = _encode_ms(answer, repeats) if case.json_answer else 0.0
    median = statistics.median
    return Measured(median(api), median(local), median(own), len(answer), encode)


def run(data_dir: Path, repeats: int) -> None:
    del data_dir  # the committed models and the bundled samples are all it needs
    repeats = max(1, min(repeats, MAX_REPEATS))
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_API_KEYS": ""}
    reg = Registry(load_settings().models_dir, parse_providers("cpu"))
    rows = []
    with api_server(env) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for case in cases(reg):
            m = measure(case, connection, repeats)
            value = (
                f"API {m.api_ms:6.1f} ms  in-process {m.local_ms:6.1f} ms (difference {m.api_ms - m.local_ms:+5.1f})  "
                f"API's own work {m.own_ms:4.1f} ms  {m.size / 1024:6.1f} kB"
            )
            if case.json_answer:
                goal = GOAL_OVERHEAD_MS + m.encode_ms
                met = m.own_ms <= goal
                rows.append(Row(case.name, value, f"own work <= {goal:.1f} ms: 2 + {m.encode_ms:.1f} encoding", met))
            else:
                rows.append(Row(case.name, value, "PNG answer: own work includes encoding the PNG"))
            print(f"  {case.name} done", flush=True)
        connection.close()
    print_table(
        f"HTTP API vs in-process service call: medians of {repeats}+ calls in alternating blocks of {BLOCK} "
        "(loopback, keep-alive)",
        rows,
    )
