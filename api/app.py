"""The FastAPI application: routers per demo, errors as data, optional bearer keys, health and model listings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import auth, errors
from api.common import registry
from api.routers import books, detection, housing, segmentation, style, textgen, toxicity
from api.timing import TimingAndCap
from services.catalog import DEMOS, demo_status_guarded
from services.errors import ModelUnavailableError
from services.registry import Registry, default_registry

MAX_BODY_BYTES = 25 * 1024 * 1024  # above the largest upload cap (20 MB images) plus form overhead
ROUTERS = (housing, books, toxicity, textgen, style, detection, segmentation)
ROUTER_OF = {module.__name__.rsplit(".", 1)[-1]: module for module in ROUTERS}  # demo slug -> its router's module


class ModelOut(BaseModel):
    key: str
    demo: str
    ready: bool
    sha256: str | None = None
    bytes: int | None = None
    providers: list[str] = []
    headline: str | None = None  # the demo's headline metric, as Home shows it
    problem: str | None = None  # why it is not ready, with the command that fixes it


def create_app(
    reg: Registry | None = None,
    *,
    api_keys: tuple[str, ...] | None = None,
    cors_origins: tuple[str, ...] = (),
    demos: tuple[str, ...] | None = None,
) -> FastAPI:
    """The API over `reg` (default: the process-wide registry of the settings). api_keys None: PORTAL_API_KEYS.
    demos: the slugs whose routes it serves (default every demo; a Ray Serve model group serves its own)."""
    app = FastAPI(
        title="ML demo portal API",
        version="1",
        description="Every demo of the portal, callable from code. Errors are JSON: {error, detail, status}.",
    )
    app.state.registry = reg if reg is not None else default_registry()
    app.state.api_keys = auth.keys_from_env() if api_keys is None else tuple(api_keys)
    errors.install(app)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])  # fmt: skip

    app.add_middleware(TimingAndCap, max_body_bytes=MAX_BODY_BYTES)

    protected = [Depends(auth.check)]
    for module in ROUTERS if demos is None else [ROUTER_OF[slug] for slug in demos]:
        app.include_router(module.router, dependencies=protected)

    @app.get("/healthz", tags=["health"], summary="The process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Every demo's models verify and load (503 lists those that don't)")
    def readyz(reg: Annotated[Registry, Depends(registry)]) -> JSONResponse:
        problems = {s.demo.slug: s.message for s in (demo_status_guarded(d, reg) for d in DEMOS) if not s.ready}
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/v1/models", tags=["models"], dependencies=protected, response_model=list[ModelOut],
             summary="Every model: loaded or not, its sha256, headline metric and execution provider")  # fmt: skip
    def models(reg: Annotated[Registry, Depends(registry)]) -> list[ModelOut]:
        out = []
        for demo in DEMOS:
            status = demo_status_guarded(demo, reg)
            for key in demo.model_keys:
                try:
                    loaded = reg.load(key)
                except ModelUnavailableError as err:
                    out.append(ModelOut(key=key, demo=demo.slug, ready=False, problem=str(err)))
                    continue
                out.append(ModelOut(key=key, demo=demo.slug, ready=True, sha256=loaded.entry.get("sha256"),
                                    bytes=loaded.entry.get("size"), providers=list(loaded.providers),
                                    headline=status.headline if key == demo.headline[0] else None))  # fmt: skip
        return out

    return app
