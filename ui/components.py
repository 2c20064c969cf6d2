"""Shared page pieces: the caption line and the generic part of every model card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from services.registry import LoadedModel


def caption(model: LoadedModel, latency_ms: float | None, what: str) -> None:
    """One line under the title: model, version, provider, latency."""
    latency = f" · {latency_ms:.1f} ms per call (median, measured here)" if latency_ms is not None else ""
    st.caption(
        f"{what} · ONNX {model.entry['sha256'][:12]} · {model.entry['created'][:10]} · {model.provider}{latency}"
    )


def artifact_facts(model: LoadedModel, latency_ms: float | None) -> None:
    """Data, licence, size, checksum, provider and latency of a model, from the manifest."""
    entry: Mapping[str, Any] = model.entry
    data = entry.get("data", {})
    rows = {
        "Data": f"{data.get('dataset', '?')} — {data.get('citation', '')}",
        "Licence": data.get("licence", "?"),
        "Source": ", ".join(f["url"] for f in data.get("files", [])) or "?",
        "Artifact": f"{entry['file']} · {entry['size'] / 1e6:.2f} MB · sha256 {entry['sha256'][:16]}…",
        "Runs on": ", ".join(model.providers),
        "Latency": f"{latency_ms:.2f} ms per call (median, this machine)" if latency_ms is not None else "not measured",
        "Session load": f"{model.load_ms:.0f} ms",
        "Built": f"{entry.get('created', '?')} from commit {entry.get('git_commit', '?')[:12]}",
        "Rebuild": f"`{entry.get('rebuild', '')}`",
    }
    st.markdown("\n".join(f"- **{k}:** {v}" for k, v in rows.items()))
