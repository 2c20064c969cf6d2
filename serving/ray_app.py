"""The portal's inference on Ray Serve: one deployment per model group (a demo's models, each with its onnxruntime
sessions), and an ingress that speaks KServe v2 for every model and serves every route of the HTTP API (`make
api`), its services running the models through the model deployments.

`serve run serving.ray_app:app` (or `make serve`) starts it on a local Ray; the same application runs on a
multi-node cluster (`ray start --address`) or under KubeRay's RayService. Settings per deployment are in GROUPS:
replicas autoscale between min and max on ongoing requests per replica; `num_gpus` asks for a GPU where the
cluster has one (onnxruntime's CUDA provider then runs the models)."""

from __future__ import annotations

import asyncio
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
    num_cpus: float = 0.2  # a scheduling share: 7 groups + the ingress fit 2 CPUs with room for one more replica
    num_gpus: float = 0.0
    batching: bool = True  # requests for BATCHED models are run together (serve.batch)


GROUPS: dict[str, GroupSettings] = {demo.slug: GroupSettings() for demo in DEMOS}
KEYS: dict[str, str] = {key: demo.slug for demo in DEMOS for key in demo.model_keys}  # model key -> its group
# Models whose concurrent requests are run as one: their tensors' first axis is the batch, and the rest can be
# padded with zeros to the longest (token ids with their attention mask: a pad id of 0 is what the service uses).
BATCHED = {"toxicity/encoder", "toxicity/encoder_int8", "toxicity/heads"}
MAX_BATCH = 16
BATCH_WAIT_S = 0.004


def _pad_concat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack arrays along axis 0, zero-padding every other axis to the largest."""
    shape = [sum(a.shape[0] for a in arrays), *np.max([a.shape[1:] for a in arrays], axis=0)]
    out = np.zeros(shape, dtype=arrays[0].dtype)
    row = 0
    for array in arrays:
        out[(slice(row, row + array.shape[0]), *(slice(0, d) for d in array.shape[1:]))] = array
        row += array.shape[0]
    return out


def run_batched(registry: Registry, calls: Sequence[tuple[str, Mapping[str, np.ndarray], Sequence[str]]]) -> list:
    """Run calls of the same model together: their inputs stacked (padded), one run, the outputs split by rows."""
    results: list[Any] = [None] * len(calls)
    by_key: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for index, (key, feeds, outputs) in enumerate(calls):
        by_key.setdefault((key, (*sorted(feeds), "|", *outputs)), []).append(index)
    for (key, _), indexes in by_key.items():
        if len(indexes) == 1:
            i = indexes[0]
            results[i] = run_model(registry, *calls[i])
            continue
        names = list(calls[indexes[0]][1])
        stacked = {name: _pad_concat([calls[i][1][name] for i in indexes]) for name in names}
        merged = run_model(registry, key, stacked, calls[indexes[0]][2])
        row = 0
        for i in indexes:
            rows = next(iter(calls[i][1].values())).shape[0]
            results[i] = {name: value[row : row + rows] for name, value in merged.items()}
            row += rows
    return results


def _registry() -> Registry:
    settings = load_settings()
    return Registry(settings.models_dir, settings.providers)


@serve.deployment(health_check_period_s=10, health_check_timeout_s=30)
class ModelGroup:
    """A demo's models, verified and loaded at start; runs them for the ingress."""

    def __init__(self, slug: str, batching: bool = True) -> None:
        self.slug, self.batching = slug, batching
        self.batch_sizes: list[int] = []
        self.registry = _registry()
        self.keys = next(d.model_keys for d in DEMOS if d.slug == slug)
        for key in self.keys:  # fail the replica's start, not a later request, when a model is broken
            self.registry.load(key)

    def metadata(self, key: str) -> dict[str, Any]:
        return metadata_of(self.registry, key)

    async def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict:
        if self.batching and key in BATCHED:
            return await self._batched((key, dict(feeds), list(outputs)))
        return await asyncio.to_thread(run_model, self.registry, key, feeds, outputs)

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
    async def _batched(self, calls: list[tuple[str, dict, list]]) -> list[dict]:
        self.batch_sizes.append(len(calls))
        return await asyncio.to_thread(run_batched, self.registry, calls)

    def stats(self) -> dict[str, Any]:
        """Batch sizes seen so far (tests and the serving benchmark read it)."""
        sizes = self.batch_sizes[-1000:]
        return {
            "batches": len(sizes),
            "max_batch": max(sizes, default=0),
            "mean_batch": float(np.mean(sizes)) if sizes else 0.0,
        }

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


ingress_app = create_app(_registry(), api_keys=None)  # the replica swaps in a remote-mode registry at start
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
        ).bind(slug, s.batching)
    return Ingress.options(ray_actor_options={"num_cpus": 0.2}).bind(**handles)


app = build()
