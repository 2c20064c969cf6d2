"""The Triton model repository generated from the manifest: one config.pbtxt per model that matches its ONNX graph,
and the committed file beside it. (No Triton server runs here: the files are checked, not served.)"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from services import v2
from services.registry import Registry
from serving.__main__ import main
from serving.triton import MAX_BATCH, TRITON_TYPES, write_repository
from serving.v2_server import served_keys


def _blocks(text: str, kind: str) -> list[dict[str, str]]:
    body = re.search(rf"^{kind} \[\n(.*?)\n\]", text, re.S | re.M).group(1)
    found = []
    for block in re.findall(r"\{(.*?)\}", body, re.S):
        fields = dict(re.findall(r"(\w+): (.+)", block))
        found.append({k: v.strip().strip('"') for k, v in fields.items()})
    return found


@pytest.fixture(scope="module")
def repository(committed_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("triton")
    write_repository(committed_registry, list(served_keys()), out)
    return out


def test_every_model_has_a_config_matching_its_graph(repository: Path, committed_registry: Registry) -> None:
    assert sorted(p.name for p in repository.iterdir()) == sorted(v2.model_name(k) for k in served_keys())
    for key in served_keys():
        text = (repository / v2.model_name(key) / "config.pbtxt").read_text()
        assert f'name: "{v2.model_name(key)}"' in text and 'platform: "onnxruntime_onnx"' in text
        batch = int(re.search(r"max_batch_size: (\d+)", text).group(1))
        assert batch in (0, MAX_BATCH) and (batch > 0) == ("dynamic_batching" in text)
        session = committed_registry.load(key).session
        for kind, nodes in (("input", session.get_inputs()), ("output", session.get_outputs())):
            blocks = _blocks(text, kind)
            assert [b["name"] for b in blocks] == [n.name for n in nodes]
            for block, node in zip(blocks, nodes, strict=True):
                spec = v2.spec_from_ort(node)
                assert block["data_type"] == TRITON_TYPES[spec.datatype]
                dims = [int(d) for d in block["dims"].strip("[] ").split(",") if d.strip()]
                assert dims == list(spec.shape[1:] if batch else spec.shape)


def test_the_model_files_are_the_committed_ones(repository: Path, committed_registry: Registry) -> None:
    for key in served_keys():
        model = repository / v2.model_name(key) / "1" / "model.onnx"
        assert hashlib.sha256(model.read_bytes()).hexdigest() == committed_registry.entry(key)["sha256"]
    heads = (repository / "toxicity__heads" / "config.pbtxt").read_text()
    assert "max_batch_size: 32" in heads and "dims: [ 384 ]" in heads


def test_the_command_writes_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triton", "--out", str(tmp_path), "--copy"]) == 0
    assert "11 models in" in capsys.readouterr().out
    assert not (tmp_path / "housing__price" / "1" / "model.onnx").is_symlink()
