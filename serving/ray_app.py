"""The portal's inference on Ray Serve: one deployment per model group (a demo's models, each with its onnxruntime
sessions), and an ingress that speaks KServe v2 for every model and serves every route of the HTTP API (`make
api`), its services running the models through the model deployments.

`serve run serving.ray_app:app` (or `make serve`) starts it on a local Ray; the same application runs on a
multi-node cluster (`ray start --address`) or under KubeRay's RayService. Settings per deployment are in GROUPS:
replicas autoscale between min and max on ongoing requests per replica; `num_gpus` asks for a GPU where the
cluster has one (onnxruntime's CUDA provider then runs the models)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from api.app import create_app
from api.common import use_registry
from services.catalog import DEMOS
from services.errors import ModelUnavailableError
from services.registry import Registry
from services.settings import load_settings
from serving.v2_server import current_host, metadata_of, run_model, use_host, v2_router


@dataclass(frozen=True)
class GroupSettings:
    min_replicas: int = 1
    max_replicas: int = 2
    target_ongoing_requests: float = 2.0
    num_cpus: float = 0.5
    num_gpus: float = 0.0


GROUPS: dict[str, GroupSettings] = {demo.slug: GroupSettings() for demo in DEMOS}
KEYS: dict[str, str] = {key: demo.slug for demo in DEMOS for key in demo.model_keys}  # model key -> its group


def _registry() -> Registry:
    settings = load_settings()
    return Registry(settings.models_dir, settings.providers)


@serve.deployment(health_check_period_s=10, health_check_timeout_s=30)
class ModelGroup:
    """A demo's models, verified and loaded at start; runs them for the ingress."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.registry = _registry()
        self.keys = next(d.model_keys for d in DEMOS if d.slug == slug)
        for key in self.keys:  # fail the replica's start, not a later request, when a model is broken
            self.registry.load(key)

    def metadata(self, key: str) -> dict[str, Any]:
        return metadata_of(self.registry, key)

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        return run_model(self.registry, key, feeds, outputs)

    def check_health(self) -> None:
        for key in self.keys:
            if not self.registry.status(key).ready:
                raise RuntimeError(f"{key} no longer verifies")


class HandleHost:
    """The ingress's view of the models: each call goes to its group's deployment."""

    where = "the Ray Serve model deployments"

    def __init__(self, handles: Mapping[str, DeploymentHandle]) -> None:
        self.handles = handles

    def keys(self) -> Sequence[str]:
        return tuple(KEYS)

    def _handle(self, key: str) -> DeploymentHandle:
        if key not in KEYS:
            raise ModelUnavailableError(f"{key} is not served here.")
        return self.handles[KEYS[key]]

    def metadata(self, key: str) -> dict[str, Any]:
        return self._handle(key).metadata.remote(key).result()

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        return self._handle(key).infer.remote(key, dict(feeds), list(outputs)).result()


ingress_app = create_app(Registry(load_settings().models_dir, load_settings().providers), api_keys=None)
ingress_app.include_router(v2_router(current_host))


@serve.deployment(health_check_period_s=10)
@serve.ingress(ingress_app)
class Ingress:
    """The HTTP API's routes and the v2 routes; the services' models run in the model deployments."""

    def __init__(self, **handles: DeploymentHandle) -> None:
        host = HandleHost(handles)
        use_host(host)
        settings = load_settings()
        # the API's services: a Registry in remote mode whose transport is the model deployments themselves
        use_registry(Registry(settings.models_dir, settings.providers, remote=host))


def build(groups: Mapping[str, GroupSettings] = GROUPS):
    """The application: a ModelGroup deployment per demo, bound into the ingress."""
    handles = {}
    for slug, s in groups.items():
        handles[slug] = ModelGroup.options(
            name=f"models_{slug}",
            autoscaling_config={
                "min_replicas": s.min_replicas,
                "max_replicas": s.max_replicas,
                "target_ongoing_requests": s.target_ongoing_requests,
            },
            ray_actor_options={"num_cpus": s.num_cpus, "num_gpus": s.num_gpus},
        ).bind(slug)
    return Ingress.options(ray_actor_options={"num_cpus": 0.25}).bind(**handles)


app = build() if os.environ.get("PORTAL_SERVE_NO_BUILD") != "1" else None
