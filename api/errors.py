"""Errors as data: every failure is a JSON body {"error", "detail", "status"} that says what was wrong and how to fix
it. A user's bad input is a 4xx (422 invalid, 413 too large, 404 unknown name); a missing or broken model is a 503
with the command that rebuilds it; anything else is a 500 and a defect (logged)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from services.errors import InputTooLargeError, InvalidInputError, ModelUnavailableError, NotFoundError, PortalError

log = logging.getLogger(__name__)

# (error class, HTTP status, the "error" field): the first that matches wins, so subclasses come first.
MAPPING: tuple[tuple[type[PortalError], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (InputTooLargeError, 413, "too_large"),
    (InvalidInputError, 422, "invalid_input"),
    (ModelUnavailableError, 503, "model_unavailable"),
)
HTTP_NAMES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ErrorBody(BaseModel):
    """What every error response holds."""

    error: str  # invalid_input, too_large, not_found, model_unavailable, unauthorized, ...
    detail: str  # what was wrong and how to fix it
    status: int


def body(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=error, detail=detail, status=status).model_dump(), status, headers=headers)


def portal_error(error: PortalError) -> JSONResponse:
    for kind, status, name in MAPPING:
        if isinstance(error, kind):
            return body(status, name, str(error))
    return body(422, "invalid_input", str(error))


def _where(location: tuple) -> str:
    parts = [str(p) for p in location if p not in ("body",)]
    return ".".join(parts) or "body"


def validation_detail(error: RequestValidationError) -> str:
    """FastAPI's validation errors in one line: where, what, and where the schema is."""
    problems = []
    for item in error.errors()[:5]:
        message = str(item.get("msg", "invalid")).rstrip(".")
        problems.append(f"{_where(tuple(item.get('loc', ())))}: {message}")
    more = len(error.errors()) - len(problems)
    tail = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + tail + ". The request's schema is at /docs."


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into an ErrorBody."""

    @app.exception_handler(PortalError)
    async def _portal(_request: Request, error: PortalError) -> JSONResponse:
        return portal_error(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        return body(422, "invalid_input", validation_detail(error))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, error: HTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else "request refused"
        if error.status_code == 404 and detail == "Not Found":
            detail = "No such route; the routes are listed at /docs."
        return body(error.status_code, HTTP_NAMES.get(error.status_code, "http_error"), detail, error.headers)

    @app.exception_handler(Exception)
    async def _defect(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return body(500, "internal", f"An internal error ({type(error).__name__}); it has been logged.")
