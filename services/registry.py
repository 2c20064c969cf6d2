"""The model registry: manifest, checksum verification, provider selection, one session per model.

The manifest holds two tables, both written by training code only: "models" (our own artifacts under models/) and
"external" (third-party weights that are never committed: url, accepted sha256 digests, where they may lie, the
input/output contract, licence). Both kinds are verified by the same size-then-sha256 check, hashed once per file
version, and loaded with one shared session per key; external ones can also be downloaded from their fixed URL.
The parsed manifest is kept until the file changes (mtime, size, inode).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from services.cards import read_card
from services.errors import ModelUnavailableError
from services.external import ExternalSpec, accepted, check_contract, fetch, locations
from services.providers import cuda_gpus, quiet_logs_without_gpu, resolve_providers
from services.settings import load_settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LoadedModel:
    """A verified model and its one shared InferenceSession (run is thread-safe)."""

    key: str
    entry: Mapping[str, Any]  # the manifest entry: under "models", or under "external" for third-party weights
    session: ort.InferenceSession
    providers: tuple[str, ...]
    load_ms: float
    path: Path | None = None  # the file the session was made from
    sha256: str = ""

    @property
    def provider(self) -> str:
        """The provider that runs the model (the first one active)."""
        return self.providers[0]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session; returns every output by name."""
        return run_session(self.session, feeds)


@dataclass(frozen=True)
class ModelStatus:
    """Whether a model can be served, and if not, why and how to fix it."""

    key: str
    ready: bool
    message: str


@dataclass(frozen=True)
class ProviderReport:
    """What was asked for and what is really there, for the system panel."""

    onnxruntime: str
    requested: tuple[str, ...]
    available: tuple[str, ...]
    selected: tuple[str, ...]
    gpus: tuple[str, ...]


def run_session(session: ort.InferenceSession, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a session and return every output by name."""
    names = [out.name for out in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def open_session(
    path: Path, requested: Sequence[str], *, threads: int = 0, arena: bool = False, fix: str
) -> tuple[ort.InferenceSession, float]:
    """An InferenceSession on the best requested provider, and how long it took to create (ms).

    arena: keep onnxruntime's CPU memory arena (a model whose ONNX metadata says memory_arena=1: big images, where
    fresh buffers on every call cost page faults; 1024x1024 style transfer ran 1.5x slower without it).
    fix: what to tell the user when onnxruntime refuses the file (e.g. the rebuild command).
    """
    quiet_logs_without_gpu()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Without the arena, the buffers of a big batch go back to the system afterwards: 1,000 comments through
    # the toxicity encoders left 135 MB more resident with it, for no measurable speed difference.
    options.enable_cpu_mem_arena = arena
    # A model run once per generated character does best on one thread: a thread pool's hand-offs cost more
    # than they save on such small steps, and a busy server makes it worse.
    options.intra_op_num_threads = threads
    start = time.perf_counter()
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=resolve_providers(requested))
    except (RuntimeError, ValueError) as err:  # onnxruntime's Fail / InvalidGraph / NotImplemented
        raise ModelUnavailableError(f"{path} could not be loaded by onnxruntime ({err}); {fix}.") from None
    return session, (time.perf_counter() - start) * 1000


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rebuild_command(key: str) -> str:
    """The command that rebuilds a model: its demo's training module."""
    return f"python -m training {key.split('/', 1)[0]}"


class Registry:
    """Reads models/manifest.json and serves verified models, own and third-party, one session each."""

    def __init__(self, models_dir: Path, providers: Sequence[str], remote: Any = None) -> None:
        """remote: the URL of a KServe v2 server, or a services.remote.Transport, that runs the models (remote
        mode: the manifest and sidecars stay local); None runs them in-process."""
        self.models_dir = Path(models_dir)
        self.requested = tuple(providers)
        if isinstance(remote, str):
            from services.remote import HttpTransport

            remote = HttpTransport(remote)
        self.remote = remote
        self._lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._sessions: dict[str, LoadedModel] = {}
        self._parsed: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def _document(self, key: str | None = None) -> dict[str, Any]:
        """The whole parsed manifest, parsed again only when the file's mtime, size or inode changed."""
        path = self.models_dir / MANIFEST
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            with self._manifest_lock:
                if self._parsed is not None and self._parsed[0] == stamp:
                    return self._parsed[1]
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            build = (
                f"this model with `{rebuild_command(key)}`" if key else "the models with `python -m training <demo>`"
            )
            raise ModelUnavailableError(f"{path} is missing; build {build}.") from None
        except (OSError, ValueError) as err:
            raise ModelUnavailableError(f"{path} cannot be read ({err}); restore it from git.") from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ModelUnavailableError(f"{path} has no 'models' table; restore it from git.")
        with self._manifest_lock:
            self._parsed = (stamp, data)
        return data

    def manifest(self, key: str | None = None) -> dict[str, Any]:
        """The parsed manifest (models by key); a missing one is reported with `key`'s rebuild command.

        The parse is shared by every caller until the file changes: read it, never change it.
        """
        return self._document(key)["models"]

    def externals(self, key: str | None = None) -> dict[str, Any]:
        """The manifest's "external" table (third-party weights by key); empty when there is none."""
        table = self._document(key).get("external", {})
        if not isinstance(table, dict):
            raise ModelUnavailableError(
                f"{self.models_dir / MANIFEST}: 'external' is not a table; restore it from git."
            )
        return table

    def is_external(self, key: str) -> bool:
        """Whether key names third-party weights (the "external" table) rather than an own model."""
        table = self._document(key).get("external")
        return isinstance(table, dict) and key in table  # a broken table breaks only the external models

    def external(self, key: str) -> ExternalSpec:
        """The typed entry of third-party weights; CardError when the entry has drifted."""
        entry = self.externals().get(key)
        if entry is None:
            raise ModelUnavailableError(
                f"{key} is not in the external table of {self.models_dir / MANIFEST}; write it with "
                f"`{rebuild_command(key)} --external-only`."
            )
        return read_card(ExternalSpec, entry)

    def entry(self, key: str) -> dict[str, Any]:
        """The manifest entry of one model."""
        entry = self.manifest(key).get(key)
        if entry is None:
            raise ModelUnavailableError(
                f"{key} is not in {self.models_dir / MANIFEST}; build it with `{rebuild_command(key)}`."
            )
        return entry

    def path(self, key: str, file: str | None = None) -> Path:
        """Where an artifact of a model lies; only paths inside the models folder are accepted."""
        relative = file if file is not None else self.entry(key)["file"]
        root = self.models_dir.resolve()
        path = (root / relative).resolve()
        if root not in path.parents:
            raise ModelUnavailableError(f"manifest entry {key} points outside {root}: {relative!r}.")
        return path

    def verify(self, key: str) -> dict[str, Any]:
        """Check that the model file exists with the manifest's size and sha256; returns the entry.

        For third-party weights: that one of their locations holds a file with a recorded digest.
        """
        if self.is_external(key):
            self.locate(key)
            return self.externals()[key]
        entry = self.entry(key)
        fix = f"rebuild with `{rebuild_command(key)}`"
        self._check_file(self.path(key), {entry["sha256"]: entry["size"]}, fix, restore=True)
        for sidecar in entry.get("sidecars", {}).values():
            self._check_file(self.path(key, sidecar["file"]), {sidecar["sha256"]: sidecar["size"]}, fix, restore=True)
        return entry

    def _check_file(
        self, path: Path, accepted: Mapping[str, int | None], fix: str, *, restore: bool = False, name: str = ""
    ) -> str:
        """Size, then sha256 (hashed once per path, size and mtime) against the accepted digests; returns the digest.

        name: what the file is, for third-party weights with several accepted digests ("not a recorded {name} file").
        """
        if restore:
            fix = f"{fix} (or restore it with `git checkout -- {path}`)"
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ModelUnavailableError(f"{path} is missing; {fix}.") from None
        sizes = sorted({size for size in accepted.values() if size is not None})
        if len(sizes) == len(accepted) and stat.st_size not in sizes:  # every size known: no need to hash
            said = sizes[0] if len(sizes) == 1 else f"one of {sizes}"
            raise ModelUnavailableError(f"{path} is {stat.st_size} bytes, manifest says {said}; {fix}.")
        actual = file_digest(path)
        if actual in accepted:
            return actual
        if name:
            raise ModelUnavailableError(f"{path} has sha256 {actual[:12]}..., not a recorded {name} file; {fix}.")
        expected = next(iter(accepted))
        raise ModelUnavailableError(f"{path} sha256 {actual[:12]}... != manifest {expected[:12]}...; {fix}.")

    def candidates(self, key: str) -> list[Path]:
        """Where third-party weights may lie, in the manifest's order (downloads go to the first)."""
        return locations(self.external(key), key, load_settings())

    def locate(self, key: str) -> Path:
        """The first location of third-party weights holding an accepted file; otherwise how to get one."""
        spec = self.external(key)
        problems = []
        for path in self.candidates(key):
            if not path.is_file():
                continue
            try:
                self._check_file(path, accepted(spec), "delete it", name=spec.name)
            except ModelUnavailableError as err:
                problems.append(str(err).rstrip("."))
            else:
                return path
        where = " or ".join(str(p.parent) for p in self.candidates(key))
        found = "; ".join(problems) or f"not found in {where}"
        raise ModelUnavailableError(
            f"{spec.name} weights {found}. Download them ({spec.licence}) with {spec.get}, from {spec.url}."
        )

    def download(self, key: str, *, timeout: float = 60.0) -> Path:
        """Fetch third-party weights from the manifest's fixed URL into their first location; only a file with a
        recorded sha256 is kept.

        Raises:
            ModelUnavailableError: offline, or the download is not a recorded file (nothing is kept).
        """
        return fetch(self.external(key), self.candidates(key)[0], timeout=timeout)

    def sidecar(self, key: str, name: str) -> Any:
        """A verified JSON sidecar of a model (labels, vocabularies, statistics)."""
        entry = self.verify(key)
        files = entry.get("sidecars", {})
        if name not in files:
            raise ModelUnavailableError(f"{key} has no sidecar {name!r}; rebuild with `{rebuild_command(key)}`.")
        return json.loads(self.path(key, files[name]["file"]).read_text(encoding="utf-8"))

    def load(self, key: str) -> LoadedModel:
        """The verified model with its shared session, created on first use.

        Third-party weights are located again on every call (a stat; the hash is cached), and get a new session
        when another accepted file is found (downloaded, or the settings' folders changed).
        """
        with self._lock:
            loaded = self._sessions.get(key)
            if self.is_external(key):
                path = self.locate(key)
                if loaded is None or (loaded.path, loaded.sha256) != (path, file_digest(path)):
                    loaded = self._create_external(key, path)
            elif loaded is None:
                loaded = self._create(key)
            self._sessions[key] = loaded
            return loaded

    def _create(self, key: str) -> LoadedModel:
        entry = self.verify(key)
        threads = str(entry.get("metadata", {}).get("intra_op_threads", "0"))
        if not threads.isdigit():
            raise ModelUnavailableError(f"{key}: intra_op_threads {threads!r} is not a number; rebuild it.")
        path = self.path(key)
        if self.remote is not None:  # remote mode: the manifest and sidecars stay local, the runs go to the server
            from services.remote import RemoteSession

            start = time.perf_counter()
            remote = RemoteSession(self.remote, key)
            _check_metadata(key, entry, remote)
            load_ms = (time.perf_counter() - start) * 1000
            return LoadedModel(key, entry, remote, tuple(remote.get_providers()), load_ms, path, entry["sha256"])
        arena = entry.get("metadata", {}).get("memory_arena") == "1"
        session, load_ms = open_session(
            path, self.requested, threads=int(threads), arena=arena, fix=f"rebuild with `{rebuild_command(key)}`"
        )
        _check_metadata(key, entry, session)
        return LoadedModel(key, entry, session, tuple(session.get_providers()), load_ms, path, entry["sha256"])

    def _create_external(self, key: str, path: Path) -> LoadedModel:
        spec = self.external(key)
        session, load_ms = open_session(path, self.requested, fix=f"delete it and download it again from {spec.url}")
        check_contract(spec, session)
        entry = self.externals()[key]
        return LoadedModel(key, entry, session, tuple(session.get_providers()), load_ms, path, file_digest(path))

    def status(self, key: str) -> ModelStatus:
        """Ready when the model verifies and loads; otherwise the reason and the fix."""
        try:
            self.load(key)
        except ModelUnavailableError as err:
            return ModelStatus(key, False, str(err))
        return ModelStatus(key, True, "ready")

    def provider_report(self) -> ProviderReport:
        """Requested, available and selected execution providers, and the GPUs present."""
        try:
            selected = tuple(resolve_providers(self.requested))
        except ModelUnavailableError:
            selected = ()
        return ProviderReport(
            onnxruntime=ort.__version__,
            requested=self.requested,
            available=tuple(ort.get_available_providers()),
            selected=selected,
            gpus=cuda_gpus(),
        )


def file_digest(path: Path) -> str:
    """The sha256 of a file, computed once per (path, size, mtime, inode): a rerun only stats the file."""
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    del size, mtime_ns, inode  # the cache key: a changed file is hashed again
    return sha256_file(Path(path))


def _check_metadata(key: str, entry: Mapping[str, Any], session: ort.InferenceSession) -> None:
    """The ONNX file's metadata_props and input names must agree with the manifest."""
    fix = f"rebuild with `{rebuild_command(key)}`"
    found = session.get_modelmeta().custom_metadata_map
    for name, expected in entry.get("metadata", {}).items():
        if found.get(name) != expected:
            raise ModelUnavailableError(
                f"{key}: ONNX metadata {name}={found.get(name)!r} but manifest says {expected!r}; {fix}."
            )
    declared = [item["name"] for item in entry.get("inputs", [])]
    actual = [item.name for item in session.get_inputs()]
    if declared and declared != actual:
        raise ModelUnavailableError(f"{key}: ONNX inputs {actual} but manifest says {declared}; {fix}.")


@functools.lru_cache(maxsize=8)
def _registry_for(models_dir: Path, providers: tuple[str, ...], inference_url: str | None = None) -> Registry:
    return Registry(models_dir, providers, inference_url)


def default_registry() -> Registry:
    """The process-wide registry for the current settings (a new one if the settings change)."""
    settings = load_settings()
    return _registry_for(settings.models_dir, settings.providers, settings.inference_url)
