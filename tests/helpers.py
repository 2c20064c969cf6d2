"""Helpers the tests share: open the portal in an AppTest, find the data, skip (or fail in CI) when an optional
path is absent, copy model folders."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.catalog import DEMOS
from services.settings import ROOT, load_settings

MODELS_DIR = ROOT / "models"


def open_app(monkeypatch: pytest.MonkeyPatch, page: str | None = None, models_dir: Path | None = None) -> AppTest:
    """An AppTest of the portal on the CPU, optionally on another models folder; run and switched to
    app_pages/<page>.py when a page is named (Home.py's st.navigation stays in charge, as in a browser)."""
    monkeypatch.setenv("PORTAL_PROVIDERS", "cpu")
    if models_dir is not None:
        monkeypatch.setenv("PORTAL_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    if page is not None:
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def open_tab(at: AppTest, page: str, label: str) -> AppTest:
    """Select a tab of a demo page (keyed `<page>_tab`, see ui/scaffold.tabs) and rerun, as a click does; the About
    tab's content only runs while it is open."""
    at.session_state[f"{page}_tab"] = label
    return at.run()


def data_dir() -> Path:
    return load_settings().data_dir


def require_path(path: Path, reason: str) -> Path:
    """The path, or a skip saying why it is needed (a failure where PORTAL_REQUIRE_DATA=1, as in CI)."""
    if not path.exists():
        if os.environ.get("PORTAL_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def require_data(relative: str) -> Path:
    """The dataset file, or a skip (a failure where PORTAL_REQUIRE_DATA=1, as in CI)."""
    path = data_dir() / relative
    return require_path(path, f"{path} is absent: point PORTAL_DATA_DIR at the datasets folder (../shared/data)")


def vision_models_copy(folder: Path) -> Path:
    """A copy of the committed models folder (the whole manifest) with the detection and segmentation artifacts only,
    for breaking one of them; the other demos' folders (from the registry) are left out."""
    others = [demo.slug for demo in DEMOS if demo.slug not in ("detection", "segmentation")]
    shutil.copytree(MODELS_DIR, folder, ignore=shutil.ignore_patterns(*others))
    return folder


SHARED_YOLOX = data_dir().parent / "weights" / "yolox_nano" / "yolox_nano.onnx"


def require_yolox() -> Path:
    """The YOLOX-Nano copy beside the project, or a skip (a failure where PORTAL_REQUIRE_DATA=1, as in CI)."""
    return require_path(SHARED_YOLOX, f"{SHARED_YOLOX} is absent: the YOLOX-Nano tests need ../shared/weights")


def require_browser() -> str:
    """Debian's chromium (with the playwright package), or a skip (a failure where PORTAL_REQUIRE_BROWSER=1, as in
    CI)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    reason = None
    if chromium is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if reason is not None:
        if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium


@contextlib.contextmanager
def edit_manifest(models_dir: Path) -> Iterator[dict[str, Any]]:
    """The parsed manifest of a models folder, written back when the block ends (to break an entry on purpose)."""
    path = Path(models_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    yield manifest
    path.write_text(json.dumps(manifest), encoding="utf-8")


def manifest_entry(models_dir: Path, key: str) -> dict[str, Any]:
    """A fresh copy of one model's manifest entry (safe to change)."""
    return json.loads((Path(models_dir) / "manifest.json").read_text(encoding="utf-8"))["models"][key]
