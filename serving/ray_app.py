"""The portal's inference on Ray Serve: a deployment per demo holding the demo's models (its onnxruntime sessions) and
serving the demo's routes of the HTTP API (`make api`), and a root ingress that serves the rest of the API (health,
model list, docs) and KServe v2 for every model.

Two layouts per demo (GroupSettings.direct): by default the root ingress forwards a demo's requests whole to its
deployment and sends a request again when the replica running it dies (two hops, no request lost to a crashed
replica); direct, the demo is an application of its own at /v1/<slug> whose replicas Serve's proxy reaches in one
hop (more throughput, but a crashed replica takes its requests in flight). `python -m serving start` (`make serve`)
deploys them on a local Ray; the same applications run on a multi-node cluster (`ray start --address`) or under
KubeRay's RayService (serving/kuberay-rayservice.yaml). Replicas autoscale between min and max on ongoing requests
per replica; `num_gpus` asks for a GPU where the cluster has one (onnxruntime's CUDA provider then runs the models)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.api import RunTarget
from ray.serve.handle import DeploymentHandle
from starlette.middleware import Middleware

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
    max_ongoing_requests: int = 32  # per replica: requests queue in the replica (where they can be batched)
    # False (default): the deployment sits in the root application and the root ingress forwards the demo's routes
    # to it, sending a request again when its replica dies (two hops; measured: no request lost when a replica is
    # killed). True: the demo is an application of its own at /v1/<slug> whose replicas serve its routes (one hop
    # from Serve's proxy, ~1.3-1.6x the throughput on 2 cores, but a replica lost takes its requests in flight).
    direct: bool = False


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


class FullPath:
    """ASGI middleware for an application under a route prefix: Serve passes the prefix as root_path, which routing
    strips from the path; the demo's routes are written whole (/v1/<slug>/...), so they get the whole path back."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("root_path"):
            scope = {**scope, "root_path": ""}
        await self.app(scope, receive, send)


def _registry() -> Registry:
    settings = load_settings()
    return Registry(settings.models_dir, settings.providers)


class ReplicaHost:
    """A model group replica's models, for its own routes: they run in the replica; a BATCHED model's call joins
    the replica's serve.batch queue (from the route's worker thread, on the replica's event loop)."""

    where = "this Ray Serve replica"

    def __init__(self, group: ModelGroup) -> None:
        self.group = group

    def keys(self) -> Sequence[str]:
        return self.group.keys

    def metadata(self, key: str) -> dict[str, Any]:
        return self.group.metadata(key)

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        group = self.group
        if group.batching and key in BATCHED and group.loop is not None:
            call = (key, dict(feeds), list(outputs))
            return asyncio.run_coroutine_threadsafe(group._batched(call), group.loop).result()
        return run_model(group.registry, key, feeds, outputs)


class ModelGroup:
    """A demo's models, verified and loaded at start. Serves the demo's API routes (as its application's ingress,
    see group_deployment) and runs single models for the root ingress's v2 routes (handle calls)."""

    def __init__(self, slug: str, batching: bool = True) -> None:
        self.slug, self.batching = slug, batching
        self.batch_sizes: list[int] = []
        self.demo_app: Any = None  # the demo's API app, for requests the root ingress forwards (built on first use)
        self.registry = _registry()
        self.keys = next(d.model_keys for d in DEMOS if d.slug == slug)
        for key in self.keys:  # fail the replica's start, not a later request, when a model is broken
            self.registry.load(key)
        try:  # Serve builds the replica on the event loop its requests run on
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None
        settings = load_settings()
        # the demo's routes run their services here, with the models of this replica (BATCHED ones batched)
        use_registry(Registry(settings.models_dir, settings.providers, remote=ReplicaHost(self)))

    def metadata(self, key: str) -> dict[str, Any]:
        return metadata_of(self.registry, key)

    async def http(self, method: str, path: str, query: bytes, headers: list, body: bytes) -> tuple[int, list, bytes]:
        """One HTTP request of the demo's routes, run through the demo's API app in this replica (the root
        ingress forwards them here when the demos have no applications of their own)."""
        if self.demo_app is None:
            self.demo_app = create_app(_registry(), api_keys=None, demos=(self.slug,))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
            "headers": [(bytes(k), bytes(v)) for k, v in headers], "client": ("ray", 0), "server": ("ray", 0),
        }  # fmt: skip
        delivered, finished = asyncio.Event(), asyncio.Event()
        answer: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def receive() -> dict:
            if not delivered.is_set():
                delivered.set()
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()  # the client never leaves while the app runs
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        try:
            await self.demo_app(scope, receive, send)
        finally:
            finished.set()
        return answer["status"], answer["headers"], b"".join(answer["body"])

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


def deployment_name(slug: str) -> str:
    return f"models_{slug}"


def group_deployment(slug: str, s: GroupSettings):
    """The deployment of a demo's models. Direct, it is the ingress of the demo's own application: the API's app with
    that demo's routes (Serve hands the app the path below the route prefix; FullPath gives the routes their whole
    path back). Otherwise a plain deployment whose `http` the root ingress calls."""
    target: Any = ModelGroup
    if s.direct:
        app = create_app(_registry(), api_keys=None, demos=(slug,))  # the replica swaps in its own registry at start
        app.add_middleware(FullPath)
        target = serve.ingress(app)(type(f"Models_{slug}", (ModelGroup,), {"__module__": __name__}))
    return serve.deployment(
        target,
        name=deployment_name(slug),
        health_check_period_s=10,
        health_check_timeout_s=30,
        max_ongoing_requests=s.max_ongoing_requests,
        autoscaling_config={
            "min_replicas": s.min_replicas,
            "max_replicas": s.max_replicas,
            "target_ongoing_requests": s.target_ongoing_requests,
        },
        ray_actor_options={"num_cpus": s.num_cpus, "num_gpus": s.num_gpus},
    )


class HandleHost:
    """The root ingress's view of the models: each call goes to its demo's deployment."""

    where = "the Ray Serve model deployments"

    def __init__(self, handles: Mapping[str, DeploymentHandle]) -> None:
        self.handles = handles

    def keys(self) -> Sequence[str]:
        return tuple(key for key in KEYS if KEYS[key] in self.handles)

    def _handle(self, key: str) -> DeploymentHandle:
        if KEYS.get(key) not in self.handles:
            raise ModelUnavailableError(f"{key} is not served here.")
        return self.handles[KEYS[key]]

    def metadata(self, key: str) -> dict[str, Any]:
        return self._handle(key).metadata.remote(key).result()

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        return self._handle(key).infer.remote(key, dict(feeds), list(outputs)).result()


FORWARD: dict[str, DeploymentHandle] = {}  # demo slug -> its deployment, when the root ingress forwards its routes
INGRESS_MAX_ONGOING = 64
RETRIES = 2  # a forwarded request whose replica dies is sent again, up to twice (the calls are pure inference)


def forward(groups: Mapping[str, DeploymentHandle]) -> None:
    """Forward these demos' routes (the root ingress's start). A module function: Serve ships the ingress class by
    value, with a copy of this module's globals, so the class cannot fill FORWARD itself."""
    FORWARD.update(groups)


class ForwardDemos:
    """ASGI middleware of the root ingress: a request for /v1/<slug>/... of a demo in FORWARD goes whole to that
    demo's deployment (ModelGroup.http); if the replica dies before answering, the request is sent again, so a lost
    replica costs time, not requests. Inside the timing and size-cap middleware, so both still apply."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        parts = scope.get("path", "").split("/")
        handle = FORWARD.get(parts[2]) if scope["type"] == "http" and len(parts) > 2 and parts[1] == "v1" else None
        if handle is None:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        call = (
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            list(scope["headers"]),
            b"".join(chunks),
        )
        for attempt in range(RETRIES + 1):
            try:
                status, headers, body = await handle.http.remote(*call)
                break
            except RayActorError:  # the replica died with the request: another one takes it
                if attempt == RETRIES:
                    status, headers = 503, [(b"content-type", b"application/json")]
                    body = b'{"error": "unavailable", "detail": "the model replicas were lost; retry", "status": 503}'
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


ingress_app = create_app(_registry(), api_keys=None)  # the replica swaps in a remote-mode registry at start
ingress_app.include_router(v2_router(current_host))
ingress_app.user_middleware.append(Middleware(ForwardDemos))  # innermost: the timing and the size cap wrap it


@serve.deployment(health_check_period_s=10)
@serve.ingress(ingress_app)
class Ingress:
    """The root application: the API's routes (forwarded demos' ones whole, to their deployments) and the v2 routes;
    the models run in the demos' deployments (direct demos' routes reach theirs by their own route prefixes)."""

    def __init__(self, slugs: Sequence[str], groups: Mapping[str, DeploymentHandle] | None = None) -> None:
        """slugs: demos with applications of their own (reached by handle for v2); groups: demos whose deployments
        are bound into this application, whose routes this ingress forwards (with a retry)."""
        handles = {s: serve.get_deployment_handle(deployment_name(s), app_name=s, _check_exists=False) for s in slugs}
        handles.update(groups or {})
        forward(groups or {})
        host = HandleHost(handles)
        use_host(host)
        settings = load_settings()
        # the API's services: a Registry in remote mode whose transport is the model deployments themselves
        use_registry(Registry(settings.models_dir, settings.providers, remote=host))


ROOT_APP = "default"


def build(groups: Mapping[str, GroupSettings] = GROUPS) -> list[RunTarget]:
    """The applications: the root one at / (the ingress with the demos' deployments, whose routes it forwards), and
    one at /v1/<slug> for each direct demo (its models and its routes)."""
    targets = [
        RunTarget(group_deployment(slug, s).bind(slug, s.batching), name=slug, route_prefix=f"/v1/{slug}")
        for slug, s in groups.items()
        if s.direct
    ]
    return [*targets, RunTarget(root_app({}, groups), name=ROOT_APP, route_prefix="/")]


def run(groups: Mapping[str, GroupSettings] = GROUPS) -> None:
    """Deploy every application on the connected Ray (serve.start first) and wait until they run."""
    serve.run_many(build(groups))


def demo_app(args: Mapping[str, Any]):
    """Application builder for a Serve config file, a demo of its own (direct): `import_path:
    serving.ray_app:demo_app`, `args: {slug: toxicity}`, `route_prefix: /v1/toxicity`; list it in the root
    application's `args: {direct: [toxicity]}`."""
    slug = str(args["slug"])
    settings = replace(GROUPS[slug], direct=True)
    return group_deployment(slug, settings).bind(slug, settings.batching)


def root_app(args: Mapping[str, Any], groups: Mapping[str, GroupSettings] | None = None):
    """Application builder for the root application (`route_prefix: /`): the ingress, and the deployments of every
    demo not listed in args["direct"] (those have applications of their own), whose routes it forwards."""
    if groups is None:
        direct = set(args.get("direct", [slug for slug, s in GROUPS.items() if s.direct]))
        groups = {slug: replace(s, direct=slug in direct) for slug, s in GROUPS.items()}
    bound = {slug: group_deployment(slug, s).bind(slug, s.batching) for slug, s in groups.items() if not s.direct}
    # requests wait in the ingress, not in the proxy: a full replica makes Serve's router retry with backoff, which
    # at 32 users cost more than the requests themselves
    return Ingress.options(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=INGRESS_MAX_ONGOING).bind(
        [slug for slug, s in groups.items() if s.direct], bound
    )
