"""A pure ASGI middleware (no per-request task, unlike Starlette's BaseHTTPMiddleware): refuses bodies over the cap
by their Content-Length, and adds a `Server-Timing` header: `service` (the time spent in service calls, which the
routers wrap in `service_time()`) and `app` (the whole request inside the application). A caller (or
`python -m benchmarks api`) can then tell the API's own work from the model's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors

_SERVICE_MS: ContextVar[list[float] | None] = ContextVar("service_ms", default=None)


@contextmanager
def service_time() -> Iterator[None]:
    """Count the enclosed block as service time of the current request (threads see the request's list)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        spent = _SERVICE_MS.get()
        if spent is not None:
            spent.append((time.perf_counter() - start) * 1000)


class TimingAndCap:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"").decode("latin-1")
        problem = None
        if length and not length.isdigit():
            problem = errors.body(400, "bad_request", "The Content-Length header is not a number.")
        elif length and int(length) > self.max_body_bytes:
            problem = errors.body(413, "too_large", f"The request body is over {self.max_body_bytes // 2**20} MB.")
        if problem is not None:
            await problem(scope, receive, send)
            return
        spent: list[float] = []
        token = _SERVICE_MS.set(spent)
        start = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                app_ms = (time.perf_counter() - start) * 1000
                header = f"service;dur={sum(spent):.3f}, app;dur={app_ms:.3f}".encode()
                message["headers"] = [*message.get("headers", []), (b"server-timing", header)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            _SERVICE_MS.reset(token)
