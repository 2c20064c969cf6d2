"""The HTTP API as `make api` runs it: a real uvicorn process on a free port, called over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from benchmarks.api import api_server
from services.samples import SAMPLES_DIR

KEY = "server-test-key-42"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`python -m api` with a key, on a free port (the API benchmark's server start)."""
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_API_KEYS": KEY}
    with api_server(env) as port:
        yield f"http://127.0.0.1:{port}"


AUTH = {"Authorization": f"Bearer {KEY}"}


def test_server_answers_json_and_images_with_the_key(server: str) -> None:
    scored = requests.post(
        f"{server}/v1/toxicity/classify", json={"texts": ["have a nice day"]}, headers=AUTH, timeout=30
    )
    assert scored.status_code == 200 and scored.json()["results"][0]["toxic"] is False
    photo = (SAMPLES_DIR / "coffee.jpg").read_bytes()
    styled = requests.post(f"{server}/v1/style", files={"image": ("c.jpg", photo, "image/jpeg")},
                           data={"style": "starry_night", "max_side": 256}, headers=AUTH, timeout=60)  # fmt: skip
    assert styled.status_code == 200 and styled.content.startswith(b"\x89PNG")
    assert requests.get(f"{server}/readyz", timeout=30).json() == {"status": "ready"}


def test_server_refuses_without_the_key_and_serves_the_docs(server: str) -> None:
    refused = requests.post(f"{server}/v1/toxicity/classify", json={"texts": ["x"]}, timeout=30)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert requests.get(f"{server}/docs", timeout=30).status_code == 200
    assert "/v1/textgen/generate" in requests.get(f"{server}/openapi.json", timeout=30).json()["paths"]


def test_server_streams_text_as_server_sent_events(server: str) -> None:
    body = {"prompt": "JULIET:\n", "max_new_tokens": 1500, "seed": 5, "stream": True}
    start = time.monotonic()
    with requests.post(f"{server}/v1/textgen/generate", json=body, headers=AUTH, stream=True, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        first, text, done = None, "", None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                data = json.loads(line[6:])
                if "text" in data:
                    first = first or time.monotonic() - start
                    text += data["text"]
                else:
                    done = data
    total = time.monotonic() - start
    assert len(text) == 1500 and done is not None and done["seed"] == 5
    assert first is not None and first < total / 2, "the first characters must arrive before the end"


def test_server_refuses_a_body_over_the_cap_before_reading_it(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/style HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 300000000\r\n\r\n")  # fmt: skip
        answer = b""
        while b'"too_large"' not in answer and (chunk := sock.recv(4096)):  # headers and body may come apart
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer
