from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

import services.registry as registry_module
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


def test_registry_parses_the_manifest_once_until_it_changes(models_copy: Path, cpu_registry: Registry) -> None:
    first = cpu_registry.manifest()
    assert cpu_registry.manifest() is first  # the same parse, not read again
    _edit_manifest(models_copy, lambda e: e["metadata"].update({"note": "changed"}))
    changed = cpu_registry.manifest()
    assert changed is not first and changed[MODEL_KEY]["metadata"]["note"] == "changed"


def test_registry_reads_the_manifest_file_once_per_version(
    models_copy: Path, cpu_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    read_text = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name) or read_text(self, *a, **k))
    for _ in range(5):
        cpu_registry.load(MODEL_KEY)
        cpu_registry.status(MODEL_KEY)
        cpu_registry.entry(MODEL_KEY)
    assert reads.count("manifest.json") == 1


# --- third-party weights: the manifest's "external" table ---------------------------------------------------------

EXTERNAL_KEY = "housing/borrowed"


def _add_external(models: Path, *, digests: dict[str, dict], contract: dict | None = None) -> None:
    """The tiny housing model recorded as third-party weights lying in the cache folder."""
    entry = {
        "name": "Borrowed",
        "title": "Borrowed housing model",
        "url": "https://example.org/borrowed.onnx",
        "licence": "MIT (test)",
        "digests": digests,
        "locations": [{"root": "cache", "file": "borrowed.onnx"}, {"root": "weights", "file": "b/borrowed.onnx"}],
        "contract": contract or {"input": {"name": "x", "shape": [1]}, "output": {"shape": [1]}},
        "get": "`python -m training housing --external-only --download`",
        "rebuild": "python -m training housing --external-only",
    }
    path = models / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["external"] = {EXTERNAL_KEY: entry}
    path.write_text(json.dumps(manifest))


def _identity_onnx() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [x])
    graph.output[0].name = "y"
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


@pytest.fixture
def folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    cache, weights = tmp_path / "cache", tmp_path / "weights"
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(cache))
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(weights))
    return cache, weights


def test_registry_loads_external_weights_with_one_session(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    content = _identity_onnx()
    _add_external(models_copy, digests={hashlib.sha256(content).hexdigest(): {"what": "test", "size": len(content)}})
    (folders[1] / "b").mkdir(parents=True)
    (folders[1] / "b" / "borrowed.onnx").write_bytes(content)
    loaded = cpu_registry.load(EXTERNAL_KEY)
    assert loaded.path == folders[1] / "b" / "borrowed.onnx" and loaded.sha256 == hashlib.sha256(content).hexdigest()
    assert cpu_registry.load(EXTERNAL_KEY).session is loaded.session
    assert cpu_registry.status(EXTERNAL_KEY).ready and cpu_registry.status(MODEL_KEY).ready


def test_registry_external_weights_hash_once_per_file_version(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _identity_onnx()
    _add_external(models_copy, digests={hashlib.sha256(content).hexdigest(): {"what": "test"}})
    folders[0].mkdir()
    (folders[0] / "borrowed.onnx").write_bytes(content)
    hashed = []
    monkeypatch.setattr(
        registry_module, "sha256_file", lambda p: hashed.append(p) or hashlib.sha256(p.read_bytes()).hexdigest()
    )
    for _ in range(4):
        cpu_registry.load(EXTERNAL_KEY)
    assert hashed == [folders[0] / "borrowed.onnx"]


def test_registry_external_file_with_another_digest_is_refused(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release"}, "1" * 64: {"what": "mirror"}})
    folders[0].mkdir()
    (folders[0] / "borrowed.onnx").write_bytes(b"something else")
    status = cpu_registry.status(EXTERNAL_KEY)
    assert not status.ready
    assert "borrowed.onnx has sha256 " in status.message and "not a recorded Borrowed file; delete it" in status.message
    assert "Download them (MIT (test)) with `python -m training housing" in status.message


def test_registry_external_size_is_checked_before_hashing(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release", "size": 10}})
    folders[0].mkdir()
    (folders[0] / "borrowed.onnx").write_bytes(b"123")
    with pytest.raises(ModelUnavailableError, match=r"borrowed.onnx is 3 bytes, manifest says 10; delete it"):
        cpu_registry.locate(EXTERNAL_KEY)


def test_registry_missing_external_weights_say_where_and_how(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release"}})
    with pytest.raises(ModelUnavailableError, match=r"Borrowed weights not found in .*cache or .*weights/b\. Download"):
        cpu_registry.load(EXTERNAL_KEY)


def test_registry_external_contract_replaces_the_metadata_check(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    content = _identity_onnx()
    contract = {"input": {"name": "images", "shape": [1, 3]}, "output": {"shape": [1, 3]}}
    _add_external(models_copy, digests={hashlib.sha256(content).hexdigest(): {"what": "test"}}, contract=contract)
    folders[0].mkdir()
    (folders[0] / "borrowed.onnx").write_bytes(content)
    with pytest.raises(ModelUnavailableError, match=r"the file takes x \[1\] and gives \[1\], but images \[1, 3\]"):
        cpu_registry.load(EXTERNAL_KEY)


def test_registry_download_refuses_an_unrecorded_digest(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release"}})
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: io.BytesIO(b"tampered"))
    with pytest.raises(ModelUnavailableError, match=r"downloaded from https://example.org/borrowed.onnx has sha256 "):
        cpu_registry.download(EXTERNAL_KEY)
    assert not folders[0].exists() or not list(folders[0].iterdir())


def test_registry_download_offline_is_a_clear_error(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release"}})

    def offline(url: str, timeout: float) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(
        ModelUnavailableError, match=r"could not download Borrowed from .*check the internet connection"
    ):
        cpu_registry.download(EXTERNAL_KEY)


def test_registry_external_location_outside_its_folder_is_refused(
    models_copy: Path, cpu_registry: Registry, folders: tuple[Path, Path]
) -> None:
    _add_external(models_copy, digests={"0" * 64: {"what": "release"}})
    path = models_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["external"][EXTERNAL_KEY]["locations"] = [{"root": "cache", "file": "../../etc/passwd"}]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelUnavailableError, match=r"is not a file under one of \['cache', 'weights'\]"):
        cpu_registry.load(EXTERNAL_KEY)


def test_registry_committed_manifest_records_yolox_nano(committed_registry: Registry) -> None:
    spec = committed_registry.external("detection/yolox_nano")
    assert spec.url.startswith("https://github.com/Megvii-BaseDetection/YOLOX/releases/")
    assert spec.contract.input_shape == (1, 3, 416, 416) and len(spec.digests) == 2
