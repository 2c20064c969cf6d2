from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.errors import ModelUnavailableError
from services.housing import MODEL_KEY
from services.registry import Registry

FIX = "python -m training housing"


def _edit_manifest(models: Path, change) -> None:
    path = models / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest["models"][MODEL_KEY])
    path.write_text(json.dumps(manifest))


def test_registry_loads_a_verified_model(cpu_registry: Registry) -> None:
    model = cpu_registry.load(MODEL_KEY)
    assert model.providers == ("CPUExecutionProvider",)
    assert [i.name for i in model.session.get_inputs()][-1] == "ocean_proximity"


def test_registry_shares_one_session_per_model(cpu_registry: Registry) -> None:
    assert cpu_registry.load(MODEL_KEY).session is cpu_registry.load(MODEL_KEY).session


def test_registry_missing_manifest_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(
        ModelUnavailableError, match=r"manifest.json is missing; build this model with `python -m training housing`"
    ):
        Registry(tmp_path, ["CPUExecutionProvider"]).load(MODEL_KEY)


def test_registry_unknown_model_names_its_rebuild_command(cpu_registry: Registry) -> None:
    with pytest.raises(ModelUnavailableError, match=r"style/wave is not in .* `python -m training style`"):
        cpu_registry.load("style/wave")


def test_registry_missing_model_file(models_copy: Path, cpu_registry: Registry) -> None:
    (models_copy / "housing" / "price.onnx").unlink()
    with pytest.raises(ModelUnavailableError, match=f"price.onnx is missing; rebuild with `{FIX}`"):
        cpu_registry.load(MODEL_KEY)


def test_registry_corrupt_model_fails_the_checksum(models_copy: Path, cpu_registry: Registry) -> None:
    path = models_copy / "housing" / "price.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match=r"price.onnx sha256 [0-9a-f]{12}\.\.\. != manifest"):
        cpu_registry.load(MODEL_KEY)


def test_registry_truncated_model_fails_the_size_check(models_copy: Path, cpu_registry: Registry) -> None:
    path = models_copy / "housing" / "price.onnx"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelUnavailableError, match=r"price.onnx is 100 bytes, manifest says \d+"):
        cpu_registry.load(MODEL_KEY)


def test_registry_corrupt_sidecar_is_detected(models_copy: Path, cpu_registry: Registry) -> None:
    path = models_copy / "housing" / "price.stats.json"
    path.write_text(path.read_text().replace("1", "2", 1))
    with pytest.raises(ModelUnavailableError, match=r"price.stats.json sha256"):
        cpu_registry.sidecar(MODEL_KEY, "stats")


def test_registry_metadata_must_agree_with_the_manifest(models_copy: Path, cpu_registry: Registry) -> None:
    _edit_manifest(models_copy, lambda e: e["metadata"].update({"portal.key": "housing/other"}))
    with pytest.raises(ModelUnavailableError, match=r"ONNX metadata portal.key='housing/price' but manifest says"):
        cpu_registry.load(MODEL_KEY)


def test_registry_refuses_paths_outside_the_models_folder(models_copy: Path, cpu_registry: Registry) -> None:
    _edit_manifest(models_copy, lambda e: e.update({"file": "../../etc/passwd"}))
    with pytest.raises(ModelUnavailableError, match=r"points outside"):
        cpu_registry.load(MODEL_KEY)


def test_registry_unreadable_manifest(models_copy: Path, cpu_registry: Registry) -> None:
    (models_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelUnavailableError, match=r"manifest.json cannot be read"):
        cpu_registry.load(MODEL_KEY)


def test_registry_wrong_provider_name_is_a_clear_error(models_copy: Path) -> None:
    registry = Registry(models_copy, ["FooExecutionProvider"])
    with pytest.raises(ModelUnavailableError, match=r"PORTAL_PROVIDERS names 'FooExecutionProvider'"):
        registry.load(MODEL_KEY)


def test_registry_cuda_without_gpu_falls_back_to_cpu(models_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.providers.cuda_gpus", lambda: ())
    model = Registry(models_copy, ["CUDAExecutionProvider", "CPUExecutionProvider"]).load(MODEL_KEY)
    assert model.providers == ("CPUExecutionProvider",)


def test_registry_status_reports_instead_of_raising(models_copy: Path, cpu_registry: Registry) -> None:
    (models_copy / "housing" / "price.onnx").unlink()
    status = cpu_registry.status(MODEL_KEY)
    assert not status.ready
    assert FIX in status.message


def test_registry_broken_model_leaves_others_working(models_copy: Path, cpu_registry: Registry) -> None:
    def add_broken_twin(manifest_models: dict) -> None:
        manifest_models["broken/twin"] = {**manifest_models[MODEL_KEY], "file": "broken/missing.onnx"}

    path = models_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    add_broken_twin(manifest["models"])
    path.write_text(json.dumps(manifest))
    assert not cpu_registry.status("broken/twin").ready
    assert cpu_registry.status(MODEL_KEY).ready


def test_registry_provider_report_lists_cpu(cpu_registry: Registry) -> None:
    report = cpu_registry.provider_report()
    assert report.selected[-1] == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in report.available
