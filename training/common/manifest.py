"""Writes artifacts and their models/manifest.json entries (the only writer of the manifest)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import onnx

from services.cards import read_card
from services.external import ExternalSpec
from training.common.onnx_graph import value_info

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    """The commit the training code was at ('+dirty' when code outside models/ had uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # artifacts being written now do not count: only the code that made them
            ["git", "status", "--porcelain", "--", ".", ":(exclude)models"], cwd=ROOT, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"size": len(data), "sha256": _sha256(data)}


def write_model(
    models_dir: Path,
    key: str,
    model: onnx.ModelProto,
    *,
    metrics: dict[str, Any],
    training: dict[str, Any],
    data: dict[str, Any],
    sidecars: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
    card_type: type | None = None,
) -> dict[str, Any]:
    """Write models/<key>.onnx, its JSON sidecars, and its manifest entry; returns the entry.

    The ONNX metadata_props (set by the builder) are copied into the entry so the registry can check that
    file and manifest agree at load. card_type: the demo's typed model card (services/cards.py); the entry must
    read back as that card, or nothing is written (a page would otherwise meet the drift at run time).
    """
    models_dir = Path(models_dir)
    file = f"{key}.onnx"
    entry: dict[str, Any] = {"file": file, **_write(models_dir / file, model.SerializeToString())}
    entry["sidecars"] = {}
    for name, content in (sidecars or {}).items():
        side_file = f"{key}.{name}.json"
        text = json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        entry["sidecars"][name] = {"file": side_file, **_write(models_dir / side_file, text.encode())}
    entry.update(
        opset={item.domain or "ai.onnx": item.version for item in model.opset_import},
        inputs=value_info(model.graph.input),
        outputs=value_info(model.graph.output),
        metadata={prop.key: prop.value for prop in model.metadata_props},
        metrics=metrics,
        training=training,
        data=data,
        card=card or {},
        rebuild=f"python -m training {key.split('/', 1)[0]}",
        git_commit=git_commit(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    if card_type is not None:
        read_card(card_type, entry)  # CardError names the missing value
    _update_manifest(models_dir / "manifest.json", key, entry)
    log.info("wrote %s (%d bytes, sha256 %s)", models_dir / file, entry["size"], entry["sha256"][:12])
    return entry


def _update_manifest(path: Path, key: str, entry: dict[str, Any]) -> None:
    manifest: dict[str, Any] = {"schema": 1, "models": {}}
    if path.exists():
        manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["models"][key] = entry
    manifest["models"] = dict(sorted(manifest["models"].items()))
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def retire_models(models_dir: Path, keys: list[str] | tuple[str, ...]) -> list[str]:
    """Remove superseded models: their manifest entries, ONNX files and sidecars; returns the keys removed."""
    models_dir = Path(models_dir)
    path = models_dir / "manifest.json"
    if not path.exists():
        return []
    manifest = json.loads(path.read_text(encoding="utf-8"))
    removed = []
    for key in keys:
        entry = manifest["models"].pop(key, None)
        if entry is None:
            continue
        for file in [entry["file"], *(side["file"] for side in entry.get("sidecars", {}).values())]:
            (models_dir / file).unlink(missing_ok=True)
        removed.append(key)
    if removed:
        path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        log.info("retired %s", ", ".join(removed))
    return removed


def write_external(models_dir: Path, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest's "external" entry of third-party weights (never committed: url, accepted sha256 digests,
    locations, input/output contract, licence); returns the entry.

    The entry must read back as services.external.ExternalSpec, or nothing is written. The "models" table is left
    as it is.
    """
    entry = {
        **spec,
        "rebuild": f"python -m training {key.split('/', 1)[0]} --external-only",
        "git_commit": git_commit(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    read_card(ExternalSpec, entry)  # the registry's reader: CardError names the missing value
    path = Path(models_dir) / "manifest.json"
    manifest: dict[str, Any] = {"schema": 1, "models": {}}
    if path.exists():
        manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["external"] = dict(sorted({**manifest.get("external", {}), key: entry}.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote the external entry %s to %s", key, path)
    return entry
