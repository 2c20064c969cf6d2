"""What the routers share: the registry of the app, reading an uploaded file under its cap, PNG responses."""

from __future__ import annotations

import io

import numpy as np
from fastapi import Request, UploadFile
from fastapi.responses import Response
from PIL import Image
from pydantic import BaseModel

from services.errors import InputTooLargeError, InvalidInputError
from services.inputs import MAX_IMAGE_BYTES, read_image
from services.registry import Registry

_OVERRIDE: list[Registry] = []


def use_registry(reg: Registry) -> None:
    """Serve every app of this process from `reg` (the Ray Serve ingress: a Registry whose models run in the model
    deployments; Serve ships the app to its replica by value, so the app's own state cannot be reached there)."""
    _OVERRIDE[:] = [reg]


async def registry(request: Request) -> Registry:
    """FastAPI dependency: the app's registry (the process-wide one unless the app was made with another). Async: a
    sync dependency would cost a round trip to the thread pool on every request."""
    return _OVERRIDE[0] if _OVERRIDE else request.app.state.registry


def read_upload(file: UploadFile | None, max_bytes: int, what: str = "file") -> bytes:
    """The upload's bytes; reads at most max_bytes + 1 so that a huge upload is refused without holding it."""
    if file is None:
        raise InvalidInputError(f"Send the {what} as a multipart form field named `{what}`.")
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputTooLargeError(f"The {what} is over the limit of {max_bytes / 1024 / 1024:.0f} MB.")
    return data


def upload_image(file: UploadFile | None) -> np.ndarray:
    """An uploaded image as (H, W, 3) uint8 RGB, through services.inputs (the pages' caps and checks)."""
    return read_image(read_upload(file, MAX_IMAGE_BYTES, "image"))


def answer(value: BaseModel | list[BaseModel]) -> Response:
    """A JSON response serialised once by pydantic (returning the model itself would have FastAPI validate and
    serialise it again against the route's response_model, which stays for the OpenAPI docs)."""
    if isinstance(value, list):
        body = b"[" + b",".join(item.model_dump_json().encode() for item in value) + b"]"
    else:
        body = value.model_dump_json().encode()
    return Response(body, media_type="application/json")


def png(image: np.ndarray, headers: dict[str, str] | None = None) -> Response:
    """An (H, W), (H, W, 3) or (H, W, 4) uint8 array as a PNG response."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG", compress_level=3)
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)
