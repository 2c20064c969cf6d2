"""`python -m training textgen`: the Shakespeare GRU and the dinosaur-name GRU, trained in Keras, served as ONNX steps.

Training checkpoints after every epoch into build/textgen/<model>/ and resumes from there, so a stopped run
loses at most one epoch and a rebuild with finished checkpoints only re-exports and re-measures.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from services import textgen as service
from services.registry import LoadedModel
from training.common.manifest import ROOT, write_model
from training.textgen import evaluate as ev
from training.textgen import net as tk
from training.textgen.data import (
    DINOSAUR_NAMES,
    END,
    NAME_SPLIT_SEED,
    TINY_SHAKESPEARE,
    Names,
    Shakespeare,
    dinosaur_names,
    shakespeare,
)

log = logging.getLogger(__name__)
BUILD = ROOT / "build" / "textgen"

SHAKESPEARE_CONFIG = tk.CharModelConfig(
    vocab_size=65,
    embedding=64,
    hidden=512,
    layers=2,
    dropout=0.35,
    seq_len=50,
    batch_size=256,
    learning_rate=2e-3,
    final_learning_rate=1e-4,
    epochs=38,
    time_budget_s=3600.0,
    stateful=True,
)

SHAKESPEARE_PATIENCE = 6  # epochs without a better validation loss before training stops

NAMES_CONFIG = tk.CharModelConfig(
    vocab_size=27,
    embedding=16,
    hidden=128,
    layers=1,
    dropout=0.1,
    seq_len=0,
    batch_size=32,
    learning_rate=3e-3,
    final_learning_rate=3e-4,
    epochs=60,
    time_budget_s=600.0,
)


def train_shakespeare(corpus: Shakespeare) -> tk.TrainResult:
    vocabulary = corpus.vocabulary
    assert len(vocabulary) == SHAKESPEARE_CONFIG.vocab_size, len(vocabulary)
    cfg = SHAKESPEARE_CONFIG
    train_ids = tk.encode(corpus.train, vocabulary)
    val_ids = tk.encode(corpus.validation, vocabulary)
    validation = tk.carried_batches(val_ids, cfg.seq_len, cfg.batch_size, None)(0)  # state carried, as served
    batches = tk.carried_batches(train_ids, cfg.seq_len, cfg.batch_size, cfg.seed)
    return tk.train(cfg, batches, validation, BUILD / "shakespeare", patience=SHAKESPEARE_PATIENCE)


def train_names(names: Names) -> tk.TrainResult:
    vocabulary = names.vocabulary
    assert len(vocabulary) == NAMES_CONFIG.vocab_size, vocabulary
    train = tk.padded_names(names.train, vocabulary, vocabulary[0])
    validation = tk.padded_names(names.validation, vocabulary, vocabulary[0])
    return tk.train(NAMES_CONFIG, lambda epoch: train, validation, BUILD / "dinosaurs", patience=8)


def build(data_dir: Path, models_dir: Path, download: bool = False) -> None:
    _build_shakespeare(data_dir, models_dir, download)
    _build_names(data_dir, models_dir, download)


def _metadata(name: str, vocabulary: list[str]) -> dict[str, str]:
    # One step per character is too small for a thread pool: one thread is steadier, above all on a busy server.
    return {"demo": "textgen", "model": name, "vocabulary": str(len(vocabulary)), "intra_op_threads": "1"}


def _char_model(name: str, proto: Any, symbols: list[str], end: str | None, hashes: frozenset[str] = frozenset()):
    """The exported graph wrapped the way the service wraps it, so figures are measured on what is served."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as the registry serves it (the intra_op_threads metadata)
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[1].shape
    loaded = LoadedModel(service.MODELS[name], {}, session, ("CPUExecutionProvider",), 0.0)
    return service.CharModel(name, loaded, tuple(symbols), end, shape[1], shape[2], hashes)


def _training_record(cfg: tk.CharModelConfig, result: tk.TrainResult) -> dict[str, Any]:
    return {
        "framework": f"keras {tk.keras.__version__} (tensorflow {tk.tf.__version__})",
        "device": tk.device_used(),
        "config": dict(sorted(vars(cfg).items())),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped,
        "train_seconds": round(result.seconds),
        "train_minutes": round(result.seconds / 60, 1),
        "history": result.history,
        "export": "GRUCell step model with the trained weights -> tf2onnx (opset 17)",
    }


def _build_shakespeare(data_dir: Path, models_dir: Path, download: bool) -> None:
    cfg = SHAKESPEARE_CONFIG
    corpus = shakespeare(data_dir, download=download)
    vocabulary = corpus.vocabulary
    result = train_shakespeare(corpus)
    step = tk.step_model(result.model, cfg)
    proto = tk.export_step(step, cfg, _metadata("shakespeare", vocabulary))
    served = _char_model("shakespeare", proto, vocabulary, None)
    val_ids = tk.encode(corpus.validation, vocabulary)
    probe = val_ids[: 4 * 300].reshape(4, 300)
    parity = ev.step_parity(served, result.model.predict(probe, verbose=0), probe)
    val_loss = ev.stream_loss(served, val_ids)
    train_sample = tk.encode(corpus.train[-len(corpus.validation) :], vocabulary)
    metrics = {
        "validation_loss_nats": round(val_loss, 4),
        "validation_loss_how": "ONNX step graph over the last 10% of the text, state carried (64 side-by-side streams)",
        "validation_loss_training_monitor": round(min(h["val_loss"] for h in result.history), 4),
        "validation_loss_training_monitor_how": "Keras, stateful, 256 streams x 400 characters (102,400 of 111,540)",
        "train_tail_loss_nats": round(ev.stream_loss(served, train_sample), 4),
        "parity_max_abs_logit": parity,
        "anchors": ev.NATS_ANCHORS,
        "goals": ev.GOALS,
        "sample": "".join(service.Generation(served, service.Prompt("ROMEO:", ()), service.Sampling(400, 0.8, seed=0))),
    }
    sampling = ev.sampling_rate(served)  # first: TensorFlow's threads stay busy for a while after Keras runs
    calls = tk.keras_step_calls(step, np.array([1], np.int32), served.initial_state(1))
    metrics["speed"] = ev.step_timings(served, calls, repeats=50) | {"sampling_chars_per_s": round(sampling)}
    log.info("shakespeare: validation %.4f nats/char, parity %.2e, speed %s", val_loss, parity, metrics["speed"])
    write_model(
        models_dir,
        service.MODELS["shakespeare"],
        proto,
        metrics=metrics,
        training=_training_record(cfg, result),
        data=TINY_SHAKESPEARE.provenance() | {"split": "first 90% train, last 10% validation (nanoGPT)"},
        sidecars={"vocabulary": {"symbols": vocabulary, "end": None}},
        card_type=service.ShakespeareCard,
    )


def _build_names(data_dir: Path, models_dir: Path, download: bool) -> None:
    cfg = NAMES_CONFIG
    names = dinosaur_names(data_dir, download=download)
    vocabulary = names.vocabulary
    result = train_names(names)
    step = tk.step_model(result.model, cfg)
    proto = tk.export_step(step, cfg, _metadata("dinosaurs", vocabulary))
    hashes = sorted({service.name_hash(n) for n in names.train})
    served = _char_model("dinosaurs", proto, vocabulary, END, frozenset(hashes))
    probe, _, _ = tk.padded_names(names.validation[:8], vocabulary, END)
    parity = ev.step_parity(served, result.model.predict(probe, verbose=0), probe)
    metrics = {
        "validation_loss_nats": round(ev.names_loss(served, names.validation), 4),
        "train_loss_nats": round(ev.names_loss(served, names.train), 4),
        "novelty": ev.novelty(served, names.train),
        "parity_max_abs_logit": parity,
        "goals": ev.GOALS,
        "names": {"train": len(names.train), "validation": len(names.validation)},
        "cleaning": {key: len(items) for key, items in names.changes.items()} | {"details": names.changes},
    }
    log.info("dinosaurs: %s", {k: v for k, v in metrics.items() if k != "cleaning"})
    write_model(
        models_dir,
        service.MODELS["dinosaurs"],
        proto,
        metrics=metrics,
        training=_training_record(cfg, result),
        data=DINOSAUR_NAMES.provenance() | {"split": f"cleaned names, 10% held out at random (seed {NAME_SPLIT_SEED})"},
        sidecars={"vocabulary": {"symbols": vocabulary, "end": END, "training_name_hashes": hashes}},
        card_type=service.DinosaursCard,
    )
