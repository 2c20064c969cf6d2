"""AppTest runs of Home: the gallery lists every demo, and a missing model shows its build command."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import open_app


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.error, *at.warning)]
    return "\n".join(str(p) for p in parts)


def test_home_lists_every_demo_as_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch).run()
    assert not at.exception
    assert any("Ready · test RMSE $" in s.value for s in at.success)
    assert any("Ready · leave-one-out HR@10 0." in s.value for s in at.success)
    assert any("Ready · validation loss 1." in s.value for s in at.success)
    assert any("Ready · 512×512 in " in s.value for s in at.success)
    assert "Models verified:** 11 of 11" in _text(at)


def test_home_shows_the_build_command_when_models_are_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_app(monkeypatch, models_dir=tmp_path).run()
    assert not at.exception
    assert any("python -m training housing" in w.value for w in at.warning)
