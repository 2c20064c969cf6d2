"""Third-party weights the portal may use but never commits (the manifest's "external" table, written by training):
their typed entry, where they may lie, the input/output contract, and the one way to download them.

The Registry verifies and loads them with the same size-then-sha256 check and one shared session as its own models.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from services.cards import at
from services.errors import ModelUnavailableError
from services.settings import Settings

log = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 64 * 1024 * 1024  # bytes read from a download at most


@dataclass(frozen=True)
class Digest:
    """One accepted file of third-party weights: what it is, and its size where known."""

    what: str
    size: int | None = None


@dataclass(frozen=True)
class Location:
    """Where third-party weights may lie: a file under one of the settings' folders."""

    root: str  # "cache" (PORTAL_CACHE_DIR) or "weights" (PORTAL_WEIGHTS_DIR)
    file: str


@dataclass(frozen=True)
class Contract:
    """The one input (name, shape) and the one output shape the service's decoding expects."""

    input_name: str = at("input.name")
    input_shape: tuple[int, ...] = at("input.shape")
    output_shape: tuple[int, ...] = at("output.shape")


@dataclass(frozen=True)
class ExternalSpec:
    """A third-party ONNX file the portal may use but never commits (manifest "external" table, written by training):
    where it comes from, which files are accepted, where it may lie, and what it must look like."""

    name: str = at("name")  # short name for messages ("YOLOX-Nano")
    title: str = at("title")
    url: str = at("url")  # the one address a download fetches
    licence: str = at("licence")
    digests: dict[str, Digest] = at("digests")  # accepted sha256 -> which file it is
    locations: tuple[Location, ...] = at("locations")  # searched in order; downloads go to the first
    contract: Contract = at("contract")
    get: str = at("get")  # how a person fetches it ("the page's button or `python -m training ...`")


ROOTS = {"cache": "cache_dir", "weights": "weights_dir"}  # Location.root -> Settings field


def locations(spec: ExternalSpec, key: str, settings: Settings) -> list[Path]:
    """Where the weights may lie, in the manifest's order (downloads go to the first); only files under the
    settings' cache or weights folder are accepted."""
    paths = []
    for place in spec.locations:
        relative = Path(place.file)
        if place.root not in ROOTS or relative.is_absolute() or ".." in relative.parts:
            raise ModelUnavailableError(
                f"manifest entry {key}: location {place.root}/{place.file} is not a file under one of "
                f"{sorted(ROOTS)}; rewrite it with `python -m training {key.split('/', 1)[0]} --external-only`."
            )
        paths.append(getattr(settings, ROOTS[place.root]) / relative)
    return paths


def fetch(spec: ExternalSpec, target: Path, *, timeout: float = 60.0) -> Path:
    """Download the weights from the spec's fixed URL to target; only a file with a recorded sha256 is kept
    (written beside it, then renamed into place).

    Raises:
        ModelUnavailableError: offline, or the download is not a recorded file (nothing is kept).
    """
    try:
        with urllib.request.urlopen(spec.url, timeout=timeout) as response:  # noqa: S310 - the manifest's https URL
            content = response.read(DOWNLOAD_LIMIT)
    except OSError as err:
        raise ModelUnavailableError(
            f"could not download {spec.name} from {spec.url} ({err}); check the internet connection."
        ) from None
    digest = hashlib.sha256(content).hexdigest()
    if digest not in spec.digests:
        raise ModelUnavailableError(
            f"the file downloaded from {spec.url} has sha256 {digest}, not the recorded release; not kept."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    partial.write_bytes(content)
    partial.replace(target)
    log.info("downloaded %s to %s", spec.name, target)
    return target


def accepted(spec: ExternalSpec) -> dict[str, int | None]:
    """Accepted sha256 -> size where known, as the Registry's file check takes them."""
    return {digest: item.size for digest, item in spec.digests.items()}


def check_contract(spec: ExternalSpec, session: ort.InferenceSession) -> None:
    """Third-party weights must take the one input and give the one output the service's decoding expects."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = (inputs[0].name, list(inputs[0].shape), list(outputs[0].shape))
    expected = (spec.contract.input_name, list(spec.contract.input_shape), list(spec.contract.output_shape))
    if len(inputs) != 1 or len(outputs) != 1 or found != expected:
        raise ModelUnavailableError(
            f"{spec.title}: the file takes {found[0]} {found[1]} and gives {found[2]}, but "
            f"{expected[0]} {expected[1]} -> {expected[2]} is expected; download it again."
        )
