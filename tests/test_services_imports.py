"""The services layer runs with the runtime set alone: no UI or training framework gets imported."""

from __future__ import annotations

import subprocess
import sys

from services.settings import ROOT

FORBIDDEN = ("streamlit", "torch", "tensorflow", "sklearn", "skl2onnx", "onnx", "transformers", "sentence_transformers")


def test_services_import_no_ui_or_training_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, services\n"
        "for m in pkgutil.iter_modules(services.__path__): importlib.import_module('services.' + m.name)\n"
        f"print(','.join(sorted(n for n in {FORBIDDEN!r} if n in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
