"""KServe v2 routes (the Open Inference Protocol) over a host of models: in-process (`LocalHost`, a Registry), or
the Ray Serve ingress's host that asks the model deployments. Errors are v2's `{"error": "..."}`: 400 for a bad
request, 404 for an unknown model, 503 for a model that cannot load."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from services import v2
from services.catalog import DEMOS
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry

SERVER = {"name": "ml-demo-portal", "version": "1", "extensions": ["binary_tensor_data"]}
MAX_BODY_BYTES = 64 * 1024 * 1024


class Host(Protocol):
    def keys(self) -> Sequence[str]: ...

    def metadata(self, key: str) -> dict[str, Any]: ...

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]: ...


def served_keys() -> tuple[str, ...]:
    """Every model of the portal's demos (the registry's list), as served over v2."""
    return tuple(key for demo in DEMOS for key in demo.model_keys)


def metadata_of(registry: Registry, key: str) -> dict[str, Any]:
    """v2 model metadata from the loaded session; parameters carry the providers and the ONNX metadata props."""
    loaded = registry.load(key)
    session = loaded.session
    return {
        "name": v2.model_name(key),
        "versions": [loaded.sha256[:12]],
        "platform": "onnxruntime_onnx",
        "inputs": [v2.spec_from_ort(i).to_json() for i in session.get_inputs()],
        "outputs": [v2.spec_from_ort(o).to_json() for o in session.get_outputs()],
        "parameters": {
            "providers": list(loaded.providers),
            "custom_metadata": dict(session.get_modelmeta().custom_metadata_map),
        },
    }


def run_model(registry: Registry, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict:
    """Run one model on v2 tensors; the inputs must be the model's (names, dtypes), else InvalidInputError."""
    session = registry.load(key).session
    expected = {i.name: v2.ONNX_TYPES.get(i.type) for i in session.get_inputs()}
    if set(feeds) != set(expected):
        raise InvalidInputError(f"{key} takes inputs {sorted(expected)}, got {sorted(feeds)}.")
    for name, array in feeds.items():
        if v2.datatype_of(array) != expected[name]:
            raise InvalidInputError(f"{key}: input {name!r} must be {expected[name]}, got {v2.datatype_of(array)}.")
    names = list(outputs) or [o.name for o in session.get_outputs()]
    unknown = set(names) - {o.name for o in session.get_outputs()}
    if unknown:
        raise InvalidInputError(f"{key} has no outputs {sorted(unknown)}.")
    try:
        values = session.run(names, dict(feeds))
    except Exception as err:  # noqa: BLE001 - onnxruntime's errors for wrong shapes are the caller's input
        raise InvalidInputError(f"{key} could not run on these tensors: {str(err)[:300]}") from None
    return dict(zip(names, values, strict=True))


class LocalHost:
    """The models of a Registry, run in this process."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def keys(self) -> Sequence[str]:
        return served_keys()

    def metadata(self, key: str) -> dict[str, Any]:
        return metadata_of(self.registry, key)

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        return run_model(self.registry, key, feeds, outputs)


_CURRENT: list[Host] = []


def use_host(host: Host) -> None:
    """Set this process's host (the Ray Serve ingress replica, at its start)."""
    _CURRENT[:] = [host]


def current_host() -> Host:
    """This process's host. Serve ships the ingress app and its class to the replica by value, copying module
    variables they name; a function imported from here is shipped by name, so it reads the replica's own state."""
    if not _CURRENT:
        raise ModelUnavailableError("the model host has not started yet; retry in a moment.")
    return _CURRENT[0]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def v2_router(host: Callable[[], Host]) -> APIRouter:
    """The v2 routes; `host` gives the host to ask (looked up per request: a Ray replica sets it at start)."""
    router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])

    def known(name: str) -> str | None:
        key = v2.model_key(name)
        return key if key in host().keys() else None

    @router.get("", summary="Server metadata")
    def server() -> dict[str, Any]:
        return SERVER

    @router.get("/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready")
    def ready() -> JSONResponse:
        for key in host().keys():
            try:
                host().metadata(key)
            except ModelUnavailableError as err:
                return _error(503, str(err))
        return JSONResponse({"ready": True})

    @router.get("/models/{name}", summary="A model's inputs and outputs")
    def metadata(name: str) -> JSONResponse:
        key = known(name)
        if key is None:
            return _error(
                404, f"unknown model {name!r}; the models are {', '.join(map(v2.model_name, host().keys()))}."
            )
        try:
            return JSONResponse(host().metadata(key))
        except ModelUnavailableError as err:
            return _error(503, str(err))

    @router.get("/models/{name}/ready")
    def model_ready(name: str) -> JSONResponse:
        key = known(name)
        if key is None:
            return _error(404, f"unknown model {name!r}.")
        try:
            host().metadata(key)
        except ModelUnavailableError as err:
            return _error(503, str(err))
        return JSONResponse({"name": name, "ready": True})

    @router.post("/models/{name}/infer", summary="Run a model on tensors (JSON, or the binary tensor extension)")
    async def infer(name: str, request: Request) -> Response:
        key = known(name)
        if key is None:
            return _error(404, f"unknown model {name!r}.")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the request is over {MAX_BODY_BYTES // 2**20} MB.")
        try:
            feeds, outputs, binary = v2.decode_request(body, request.headers.get(v2.HEADER_LENGTH))
            result = await run_in_threadpool(host().infer, key, feeds, outputs)
            data, headers = v2.encode_response(name, "1", result, binary=binary)
        except InvalidInputError as err:
            return _error(400, str(err))
        except ModelUnavailableError as err:
            return _error(503, str(err))
        return Response(data, headers=headers)

    return router


def create_v2_app(registry: Registry | None = None):
    """A plain (one-process) v2 server over a Registry: `uvicorn` it, or use it in tests."""
    from fastapi import FastAPI

    from services.registry import default_registry

    host = LocalHost(registry or default_registry())
    app = FastAPI(title="ML demo portal models (KServe v2)")
    app.include_router(v2_router(lambda: host))
    return app
