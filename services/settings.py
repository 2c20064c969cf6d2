"""Settings read from the environment (one place, so every module agrees)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
DEFAULT_API_URL = "http://127.0.0.1:8000"

# Short names accepted in PORTAL_PROVIDERS, besides the full onnxruntime names.
PROVIDER_ALIASES = {
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}


@dataclass(frozen=True)
class Settings:
    """What the environment asks for.

    PORTAL_MODELS_DIR: folder holding manifest.json and the artifacts (default: models/ in the repo).
    PORTAL_DATA_DIR: folder holding the datasets (default: ../shared/data beside the repo).
    PORTAL_PROVIDERS: comma-separated execution providers in order of preference (default: cuda,cpu).
    PORTAL_WEIGHTS_DIR: pretrained third-party weights kept beside the project (default: ../shared/weights).
    PORTAL_CACHE_DIR: where downloaded third-party weights go, outside git (default: $XDG_CACHE_HOME/ml-demo-portal
        or ~/.cache/ml-demo-portal).
    PORTAL_API_URL: where the HTTP API (`make api`) answers, for the pages' "Use via API" snippets
        (default: http://127.0.0.1:8000).
    PORTAL_INFERENCE_URL: a KServe v2 inference server (e.g. `make serve`) that runs the models instead of
        onnxruntime in this process (default: unset, in-process).
    PORTAL_ICE_SERVERS: STUN/TURN servers for the live camera, as JSON: [{"urls": ["turn:host:3478"], "username":
        "...", "credential": "..."}], or a whole RTCConfiguration {"iceServers": [...], "iceTransportPolicy":
        "relay"} (default: none, which connects on this machine and its network only; on Streamlit Community Cloud
        put `ice_servers` in the app's secrets instead).
    """

    models_dir: Path
    data_dir: Path
    providers: tuple[str, ...]
    weights_dir: Path = ROOT.parent / "shared" / "weights"
    cache_dir: Path = Path.home() / ".cache" / "ml-demo-portal"
    api_url: str = DEFAULT_API_URL
    inference_url: str | None = None
    ice_servers: str = ""


def parse_providers(text: str | None) -> tuple[str, ...]:
    """Turn 'cuda, cpu' or 'CUDAExecutionProvider,CPUExecutionProvider' into full provider names."""
    if not text or not text.strip():
        return DEFAULT_PROVIDERS
    names = [part.strip() for part in text.split(",") if part.strip()]
    return tuple(PROVIDER_ALIASES.get(name.lower(), name) for name in names)


def load_settings() -> Settings:
    """Read the settings from the environment now."""
    env = os.environ
    return Settings(
        models_dir=Path(env.get("PORTAL_MODELS_DIR") or ROOT / "models"),
        data_dir=Path(env.get("PORTAL_DATA_DIR") or ROOT.parent / "shared" / "data"),
        providers=parse_providers(env.get("PORTAL_PROVIDERS")),
        weights_dir=Path(env.get("PORTAL_WEIGHTS_DIR") or ROOT.parent / "shared" / "weights"),
        cache_dir=Path(
            env.get("PORTAL_CACHE_DIR") or Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ml-demo-portal"
        ),
        api_url=(env.get("PORTAL_API_URL") or DEFAULT_API_URL).rstrip("/"),
        inference_url=(env.get("PORTAL_INFERENCE_URL") or "").rstrip("/") or None,
        ice_servers=env.get("PORTAL_ICE_SERVERS", "").strip(),
    )
