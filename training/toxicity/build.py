"""`python -m training toxicity`: fine-tuned MiniLM encoder + logistic-regression heads, in ONNX.

1. Frozen baseline (the original method): the stock all-MiniLM-L6-v2 exported to ONNX, logistic regression on
   its embeddings, evaluated on the test splits. Only its figures are kept (for the model card).
2. The encoder fine-tuned on both corpora (training/toxicity_finetune.py), exported, parity-checked. The 90 MB
   encoder is rebuilt only when its fingerprint (source weights, data, fine-tuning config) changes, so
   retraining the heads never rewrites it.
3. Logistic-regression heads on the served encoder's embeddings (C chosen on the validation splits), one small
   ONNX graph for both; test figures, the hand-written regression sentences, and the int8 encoder's figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from services import toxicity as service
from services.errors import ModelUnavailableError
from services.registry import Registry, run_session
from training.common.manifest import ROOT, write_model
from training.common.onnx_graph import GraphBuilder
from training.toxicity import encoder as encoder_export
from training.toxicity.augment import benign_examples
from training.toxicity.data import DAVIDSON, OLID, Corpus, davidson, olid
from training.toxicity.evaluate import ANCHORS, GOALS, REGRESSION_SENTENCES, evaluate, f1_drops, regression
from training.toxicity.finetune import FinetuneConfig, finetune, load_weights

log = logging.getLogger(__name__)
ENCODER_VERSION = 1  # bump when the export or fine-tuning method changes
CONFIG = FinetuneConfig()
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
AUGMENT_LABEL = {"davidson": 2, "olid": 0}  # the benign counter-examples are "neither" / "not offensive"
BIAS_CLASS = {"davidson": 0, "olid": 1}  # the class whose intercept is tuned on validation macro F1
BIAS_GRID = tuple(np.round(np.arange(-1.0, 3.01, 0.25), 2))
INT8_METHOD = "onnxruntime quantize_dynamic: int8 per-channel weights, embedding table included"
INT8_TOLERANCE = 0.005  # the int8 encoder ships only if every test F1 stays within 0.5 points of fp32
WORK_DIR = ROOT / "build" / "toxicity"


def build(data_dir: Path, models_dir: Path, download: bool = False) -> None:
    corpora = [davidson(data_dir, download=download), olid(data_dir, download=download)]
    provenance = {"datasets": [DAVIDSON.provenance(), OLID.provenance()], "encoder": encoder_export.SOURCE}
    frozen = frozen_baseline(corpora)
    encoder = _served_encoder(corpora, models_dir, provenance)
    encoder_sha256 = hashlib.sha256(encoder.SerializeToString()).hexdigest()
    embed = encoder_export.onnx_embedder(encoder)
    heads, chosen = fit_heads(corpora, embed)
    graph = heads_graph(heads, encoder_sha256=encoder_sha256)
    scores = _session_heads(graph)
    metrics = {c.name: evaluate(c, scores(embed(c.test.texts))[c.name]) for c in corpora}
    metrics["regression"] = regression(lambda texts: scores(embed(texts)))
    int8, metrics["int8"] = int8_figures(encoder, encoder_sha256, corpora, scores, metrics)
    if metrics["int8"]["within_tolerance"]:
        _write_int8(models_dir, int8, metrics["int8"], provenance)
    metrics["frozen"] = frozen
    metrics["anchors"], metrics["goals"] = ANCHORS, GOALS
    log.info("heads: %s", json.dumps(metrics, indent=1))
    write_model(
        models_dir,
        service.HEADS_KEY,
        graph,
        metrics=metrics,
        training={"method": "logistic regression on the served encoder's embeddings", "chosen": chosen},
        data=provenance["datasets"][0] | {"also": provenance["datasets"][1]},
        sidecars={"labels": {name: list(labels) for name, labels in service.HEADS.items()}},
        card_type=service.ToxicityHeadsCard,
    )


def fingerprint(data_dir_files: list[dict[str, Any]]) -> str:
    """What the fine-tuned encoder depends on: source weights, data checksums, config, method version."""
    parts = {
        "version": ENCODER_VERSION,
        "source": encoder_export.source_sha256(),
        "data": data_dir_files,
        "config": asdict(CONFIG),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _served_encoder(corpora: list[Corpus], models_dir: Path, provenance: dict[str, Any]) -> onnx.ModelProto:
    """The committed encoder when its fingerprint is current; otherwise fine-tune, export and write it."""
    stamp = fingerprint(provenance["datasets"])
    registry = Registry(models_dir, ("CPUExecutionProvider",))
    try:
        entry = registry.verify(service.ENCODER_KEY)
        if entry["metadata"].get("fingerprint") == stamp:
            log.info("encoder is current (fingerprint %s): reused, not rewritten", stamp[:12])
            return onnx.load(str(registry.path(service.ENCODER_KEY)))
    except ModelUnavailableError as err:
        log.info("encoder will be rebuilt: %s", err)
    start = time.perf_counter()
    folder = WORK_DIR / stamp[:16]
    run = _finetuned(corpora, folder)
    reference = encoder_export.sentence_transformer()
    load_weights(reference, folder / "encoder.safetensors")
    metadata = {"demo": "toxicity", "fingerprint": stamp, "pooling": "mean", "normalised": "l2"}
    model = encoder_export.export(reference, metadata)
    texts = encoder_export.varied_texts(1000) + list(corpora[0].test.texts[:100]) + list(corpora[1].test.texts[:100])
    cosine = encoder_export.parity(model, texts, reference)
    log.info("encoder parity: min cosine %.7f over %d texts", cosine, len(texts))
    if cosine < encoder_export.PARITY_MIN_COSINE:
        raise RuntimeError(f"encoder parity failed: min cosine {cosine:.6f} < {encoder_export.PARITY_MIN_COSINE}")
    write_model(
        models_dir,
        service.ENCODER_KEY,
        model,
        metrics={"parity_min_cosine": round(cosine, 7), "parity_texts": len(texts), "validation": run["history"]},
        training={**run, "total_seconds": round(time.perf_counter() - start), "fingerprint": stamp},
        data=provenance["encoder"] | {"fine_tuned_on": [d["dataset"] for d in provenance["datasets"]]},
        sidecars={"tokenizer": encoder_export.tokenizer_json()},
        card_type=service.ToxicityEncoderCard,
    )
    return model


def _finetuned(corpora: list[Corpus], folder: Path) -> dict[str, Any]:
    """Fine-tune into folder, or reuse the weights already there (the folder is named by the fingerprint, so a
    finished run survives an interrupted build and is never mixed up with another configuration's)."""
    record = folder / "finetune.json"
    if record.exists() and (folder / "encoder.safetensors").exists():
        log.info("reusing the fine-tuned weights in %s", folder)
        return json.loads(record.read_text(encoding="utf-8"))
    run = finetune(corpora, CONFIG, folder)
    record.write_text(json.dumps(run, indent=1), encoding="utf-8")
    return run


def fit_heads(corpora: list[Corpus], embed) -> tuple[dict[str, LogisticRegression], dict[str, Any]]:
    """One logistic regression per corpus on its training tweets plus the benign counter-examples.

    C is chosen by validation F1 (weighted for Davidson, macro for OLID, each corpus's headline measure); then
    one class's intercept (Davidson: hate speech, OLID: offensive) is shifted by the amount that maximises
    validation macro F1, a prior correction for the rare class. Test data play no part.
    """
    extra = embed([service.normalise(t) for t in benign_examples()])
    heads, chosen = {}, {}
    for corpus in corpora:
        train = np.vstack([embed(corpus.train.texts), extra])
        labels = np.concatenate([corpus.train.labels, np.full(len(extra), AUGMENT_LABEL[corpus.name])])
        valid = embed(corpus.valid.texts)
        average = "weighted" if corpus.name == "davidson" else "macro"
        best = None
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=5000).fit(train, labels)
            score = f1_score(corpus.valid.labels, model.predict(valid), average=average)
            if best is None or score > best[0]:
                best = (score, c, model)
        model = best[2]
        bias = _shift_intercept(model, valid, corpus.valid.labels, BIAS_CLASS[corpus.name])
        chosen[corpus.name] = {
            "C": best[1],
            f"valid_{average}_f1_before_shift": round(float(best[0]), 4),
            "intercept_shift": {"class": corpus.labels[BIAS_CLASS[corpus.name]], "by": bias},
            "valid_macro_f1": round(float(f1_score(corpus.valid.labels, model.predict(valid), average="macro")), 4),
            "benign_examples": len(extra),
        }
        heads[corpus.name] = model
    return heads, chosen


def _shift_intercept(model: LogisticRegression, valid: np.ndarray, labels: np.ndarray, target: int) -> float:
    """Add to one class's intercept the shift (from BIAS_GRID) with the best validation macro F1; returns it."""
    scores = model.decision_function(valid)
    if scores.ndim == 1:  # binary: one score for class 1
        scores = np.stack([np.zeros_like(scores), scores], axis=1)
    best = max(
        BIAS_GRID,
        key=lambda b: (
            f1_score(labels, (scores + np.eye(scores.shape[1])[target] * b).argmax(1), average="macro"),
            -abs(b),
        ),
    )
    if model.intercept_.shape[0] == 1:  # binary sklearn models keep only class 1's intercept
        model.intercept_[0] += best if target == 1 else -best
    else:
        model.intercept_[target] += best
    return float(best)


def heads_graph(heads: dict[str, LogisticRegression], *, encoder_sha256: str) -> onnx.ModelProto:
    """embedding (B, 384) -> per head softmax probabilities (B, labels), in service.HEADS order."""
    builder = GraphBuilder("toxicity_heads")
    embedding = builder.input("embedding", TensorProto.FLOAT, ["batch", 384])
    for name, model in heads.items():
        weights, bias = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        if weights.shape[0] == 1:  # binary: sklearn keeps one row; softmax over (-z/2, z/2) equals sigmoid(z)
            weights, bias = np.vstack([-weights / 2, weights / 2]), np.array([-bias[0] / 2, bias[0] / 2], np.float32)
        logits = builder.op("Gemm", [embedding, builder.const(weights), builder.const(bias)], transB=1)
        probs = builder.op("Softmax", [logits], axis=-1)
        builder.output(probs, name, TensorProto.FLOAT, ["batch", len(service.HEADS[name])])
    return builder.model({"demo": "toxicity", "encoder_sha256": encoder_sha256})


def _session_heads(graph: onnx.ModelProto):
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return lambda x: run_session(session, {"embedding": x})


def frozen_baseline(corpora: list[Corpus]) -> dict[str, Any]:
    """Test figures of logistic regression on the stock (not fine-tuned) encoder, and its export parity."""
    reference = encoder_export.sentence_transformer()
    model = encoder_export.export(reference, {"demo": "toxicity"})
    texts = encoder_export.varied_texts(1000)
    cosine = encoder_export.parity(model, texts, reference)
    embed = encoder_export.onnx_embedder(model)
    heads, chosen = fit_heads(corpora, embed)
    probs = _session_heads(heads_graph(heads, encoder_sha256=""))
    result = {c.name: evaluate(c, probs(embed(c.test.texts))[c.name]) for c in corpora}
    return result | {"chosen": chosen, "stock_parity_min_cosine": round(cosine, 7)}


def int8_figures(
    encoder: onnx.ModelProto,
    encoder_sha256: str,
    corpora: list[Corpus],
    scores,
    fp32: dict[str, Any],
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The int8 encoder and its test figures next to fp32's (it ships only when within tolerance)."""
    int8 = encoder_export.quantize_int8(encoder)
    del int8.metadata_props[:]
    onnx.helper.set_model_props(int8, {"demo": "toxicity", "quantised_from": encoder_sha256, "method": INT8_METHOD})
    embed = encoder_export.onnx_embedder(int8)
    figures = {c.name: evaluate(c, scores(embed(c.test.texts))[c.name]) for c in corpora}
    drops = f1_drops(fp32, figures)
    within = all(d <= INT8_TOLERANCE for d in drops.values())
    return int8, figures | {"drops": {k: round(v, 4) for k, v in drops.items()}, "within_tolerance": within}


def _write_int8(models_dir: Path, int8: onnx.ModelProto, figures: dict[str, Any], provenance: dict[str, Any]) -> None:
    """Write the int8 encoder unless the one there was already quantised from this fp32 encoder."""
    registry = Registry(models_dir, ("CPUExecutionProvider",))
    stamp = {p.key: p.value for p in int8.metadata_props}
    try:
        if registry.verify(service.INT8_KEY)["metadata"] == stamp:
            log.info("int8 encoder is current: reused, not rewritten")
            return
    except ModelUnavailableError:
        pass
    write_model(
        models_dir,
        service.INT8_KEY,
        int8,
        metrics={k: figures[k] for k in ("davidson", "olid", "drops")},
        training={"method": INT8_METHOD},
        data=provenance["encoder"],
    )  # it reads the fp32 encoder's tokenizer sidecar


__all__ = ["REGRESSION_SENTENCES", "build"]
