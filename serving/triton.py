"""A Triton Inference Server model repository from our manifest: `python -m serving triton --out DIR`.

Triton speaks the same KServe v2 protocol as `make serve`, with its onnxruntime backend, so a portal in remote mode
(PORTAL_INFERENCE_URL) can use either. Per model: `<name>/config.pbtxt` (platform onnxruntime_onnx, inputs and
outputs from the ONNX graph, dynamic batching when every input and output has a dynamic first dimension) and
`<name>/1/model.onnx` (a symbolic link to the committed file, or a copy with --copy). Model names are v2's
(housing/price -> housing__price)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from services import v2
from services.registry import Registry

TRITON_TYPES = {
    "BOOL": "TYPE_BOOL", "UINT8": "TYPE_UINT8", "INT8": "TYPE_INT8", "INT16": "TYPE_INT16", "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64", "FP16": "TYPE_FP16", "FP32": "TYPE_FP32", "FP64": "TYPE_FP64", "BYTES": "TYPE_STRING",
}  # fmt: skip
MAX_BATCH = 32


@dataclass(frozen=True)
class ModelConfig:
    name: str
    text: str  # config.pbtxt
    batching: bool


def _tensor_block(kind: str, specs: list[v2.TensorSpec], batching: bool) -> str:
    blocks = []
    for spec in specs:
        dims = spec.shape[1:] if batching else spec.shape
        blocks.append(
            f'  {{\n    name: "{spec.name}"\n    data_type: {TRITON_TYPES[spec.datatype]}\n'
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}"
        )
    return f"{kind} [\n" + ",\n".join(blocks) + "\n]"


def config_for(key: str, session: ort.InferenceSession) -> ModelConfig:
    """config.pbtxt for one model, from its session's inputs and outputs."""
    inputs = [v2.spec_from_ort(i) for i in session.get_inputs()]
    outputs = [v2.spec_from_ort(o) for o in session.get_outputs()]
    batching = all(s.shape and s.shape[0] == -1 for s in inputs + outputs)
    lines = [
        f'name: "{v2.model_name(key)}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {MAX_BATCH if batching else 0}",
    ]
    lines += [_tensor_block("input", inputs, batching), _tensor_block("output", outputs, batching)]
    if batching:
        lines.append("dynamic_batching {\n  max_queue_delay_microseconds: 2000\n}")
    lines.append("instance_group [\n  {\n    kind: KIND_AUTO\n  }\n]")
    return ModelConfig(v2.model_name(key), "\n".join(lines) + "\n", batching)


def write_repository(registry: Registry, keys: list[str], out: Path, *, copy: bool = False) -> list[ModelConfig]:
    """The repository for `keys` under out/ (created); returns what was written."""
    written = []
    for key in keys:
        loaded = registry.load(key)
        config = config_for(key, loaded.session)
        folder = out / config.name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        (folder / "config.pbtxt").write_text(config.text, encoding="utf-8")
        target = folder / "1" / "model.onnx"
        if target.exists() or target.is_symlink():
            target.unlink()
        if copy:
            shutil.copyfile(loaded.path, target)
        else:
            target.symlink_to(Path(loaded.path).resolve())
        written.append(config)
    return written
