"""Keras character models: training (resumable, time-budgeted) and the single-step models that get exported.

A sequence model (Embedding -> stacked GRU -> Dense) is what trains; a step model built from GRUCell layers with
the same weights (token + state in -> logits + state out) is what goes to ONNX, so serving costs one small
step per character instead of re-running a sequence.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import numpy as np
import onnx
import tensorflow as tf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CharModelConfig:
    vocab_size: int
    embedding: int
    hidden: int
    layers: int
    dropout: float
    seq_len: int
    batch_size: int
    learning_rate: float
    final_learning_rate: float
    epochs: int
    clipnorm: float = 1.0
    stateful: bool = False  # rows continue each other across batches: state carried, gradients cut at seq_len
    time_budget_s: float = 3600.0
    seed: int = 1234

    def fingerprint(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def device_used() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else f"CPU ({os.cpu_count()} cores)"


def sequence_model(cfg: CharModelConfig, *, stateful: bool = False) -> keras.Model:
    """Embedding -> GRU x layers -> Dense. Stateful (for training with carried state) needs a fixed batch size."""
    if stateful:
        tokens = keras.Input(batch_shape=(cfg.batch_size, None), dtype="int32", name="tokens")
    else:
        tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding, name="embedding")(tokens)
    for i in range(cfg.layers):
        x = keras.layers.GRU(cfg.hidden, return_sequences=True, stateful=stateful, name=f"gru{i}")(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    logits = keras.layers.Dense(cfg.vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="char_gru")


def step_model(trained: keras.Model, cfg: CharModelConfig) -> keras.Model:
    """One character: token [batch] + state [batch, layers, hidden] -> logits [batch, vocab] + new state.

    GRUCell computes exactly what GRU computes per time step (reset_after=True in both); weights are copied.
    """
    token = keras.Input((), dtype="int32", name="token")
    state = keras.Input((cfg.layers, cfg.hidden), dtype="float32", name="state")
    x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding, name="embedding")(token)
    new_states = []
    for i in range(cfg.layers):
        cell = keras.layers.GRUCell(cfg.hidden, name=f"gru{i}")
        x, _ = cell(x, [state[:, i, :]])
        new_states.append(x)
    logits = keras.layers.Dense(cfg.vocab_size, name="logits")(x)
    new_state = keras.ops.stack(new_states, axis=1)
    model = keras.Model([token, state], [logits, new_state], name="char_gru_step")
    for layer in model.layers:
        if layer.weights and layer.name in {w.name for w in trained.layers}:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    return model


def _schedule(cfg: CharModelConfig, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule:
    total = max(1, steps_per_epoch * cfg.epochs)
    return keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, total, alpha=cfg.final_learning_rate / cfg.learning_rate
    )


def compile_model(model: keras.Model, cfg: CharModelConfig, steps_per_epoch: int) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(_schedule(cfg, steps_per_epoch), clipnorm=cfg.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


@dataclass
class TrainResult:
    model: keras.Model  # the weights of the best validation epoch
    history: list[dict[str, float]]
    seconds: float
    best_epoch: int
    stopped: str


def train(
    cfg: CharModelConfig,
    batches: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    folder: Path,
    *,
    patience: int | None = None,
) -> TrainResult:
    """Train epoch by epoch, checkpointing into folder after each, resuming from it when it exists.

    batches(epoch) returns that epoch's (inputs, targets, sample weights). Stops at cfg.epochs, when the next
    epoch would overrun cfg.time_budget_s, or after `patience` epochs without a better validation loss.
    """
    folder.mkdir(parents=True, exist_ok=True)
    state_file, last_file, best_file = folder / "state.json", folder / "last.keras", folder / "best.weights.h5"
    keras.utils.set_random_seed(cfg.seed)
    x0, _, _ = batches(0)
    steps_per_epoch = int(np.ceil(len(x0) / cfg.batch_size))
    state = {"epoch": 0, "seconds": 0.0, "history": [], "best_epoch": 0, "best_loss": float("inf")}
    if state_file.exists() and last_file.exists():
        saved = json.loads(state_file.read_text())
        if saved.get("config") == cfg.fingerprint():
            state = saved
            model = keras.models.load_model(last_file, compile=True)
            log.info("resuming at epoch %d (%.0f s already spent)", state["epoch"], state["seconds"])
    if state["epoch"] == 0:
        model = sequence_model(cfg, stateful=cfg.stateful)
        compile_model(model, cfg, steps_per_epoch)
    stopped = "epochs"
    while state["epoch"] < cfg.epochs:
        history = state["history"]
        mean_epoch = state["seconds"] / max(1, state["epoch"])
        if state["epoch"] and state["seconds"] + mean_epoch > cfg.time_budget_s:
            stopped = "time budget"
            break
        if patience is not None and state["epoch"] - state["best_epoch"] >= patience:
            stopped = "early stopping"
            break
        start = time.perf_counter()
        x, y, w = batches(state["epoch"])
        _reset_states(model)
        fit = model.fit(x, y, sample_weight=w, batch_size=cfg.batch_size, epochs=1, shuffle=not cfg.stateful, verbose=0)
        _reset_states(model)
        val_loss = float(
            model.evaluate(*validation[:2], sample_weight=validation[2], batch_size=cfg.batch_size, verbose=0)
        )
        val_loss *= _per_character(validation[2])
        state["seconds"] += time.perf_counter() - start
        state["epoch"] += 1
        train_loss = float(fit.history["loss"][-1]) * _per_character(w)
        history.append({"epoch": state["epoch"], "loss": train_loss, "val_loss": val_loss})
        if val_loss < state["best_loss"]:
            state["best_loss"], state["best_epoch"] = val_loss, state["epoch"]
            model.save_weights(best_file)
        model.save(last_file)
        state["config"] = cfg.fingerprint()
        state_file.write_text(json.dumps(state, indent=1))
        log.info(
            "epoch %d: loss %.4f, validation %.4f (%.0f s so far)",
            state["epoch"],
            history[-1]["loss"],
            val_loss,
            state["seconds"],
        )
    best = sequence_model(cfg)
    best.load_weights(best_file)
    return TrainResult(best, state["history"], state["seconds"], state["best_epoch"], stopped)


def _reset_states(model: keras.Model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def _per_character(weights: np.ndarray | None) -> float:
    """Keras averages a weighted loss over every position, padding included: this turns it into nats per
    character (the weight-1 positions)."""
    return 1.0 if weights is None else float(weights.size / weights.sum())


# ---- data to (inputs, targets) ----


def encode(text: str, vocabulary: list[str]) -> np.ndarray:
    index = {ch: i for i, ch in enumerate(vocabulary)}
    return np.array([index[ch] for ch in text], dtype=np.int32)


def carried_batches(
    ids: np.ndarray, seq_len: int, streams: int, seed: int | None
) -> Callable[[int], tuple[np.ndarray, np.ndarray, None]]:
    """For stateful training: the text as `streams` contiguous pieces read side by side, seq_len at a time.

    Rows [k*streams, (k+1)*streams) form batch k and row b of batch k continues row b of batch k-1, so fit must
    not shuffle. Each epoch starts from a fresh random offset (none when seed is None: validation).
    """

    def epoch(number: int) -> tuple[np.ndarray, np.ndarray, None]:
        offset = 0 if seed is None else int(np.random.default_rng([seed, number]).integers(seq_len))
        chunks = (len(ids) - offset - 1) // (streams * seq_len)
        length = chunks * seq_len
        starts = offset + np.arange(streams) * length
        x = np.stack([ids[s : s + length] for s in starts])  # [streams, length]
        y = np.stack([ids[s + 1 : s + 1 + length] for s in starts])
        reorder = lambda a: a.reshape(streams, chunks, seq_len).transpose(1, 0, 2).reshape(-1, seq_len)  # noqa: E731
        return reorder(x), reorder(y), None

    return epoch


def padded_names(names: list[str], vocabulary: list[str], end: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """'\\nname\\n' per row: inputs drop the last symbol, targets the first; padding carries weight 0."""
    rows = [encode(end + name + end, vocabulary) for name in names]
    width = max(len(r) for r in rows) - 1
    x = np.zeros((len(rows), width), np.int32)
    y = np.zeros((len(rows), width), np.int32)
    w = np.zeros((len(rows), width), np.float32)
    for i, r in enumerate(rows):
        x[i, : len(r) - 1], y[i, : len(r) - 1], w[i, : len(r) - 1] = r[:-1], r[1:], 1.0
    return x, y, w


def keras_step_calls(step: keras.Model, token: np.ndarray, state: np.ndarray) -> dict[str, Callable[[], object]]:
    """One step of the Keras step model, called the two usual ways: eagerly and through a tf.function."""
    compiled = tf.function(lambda t, s: step([t, s], training=False))
    return {"eager": lambda: step([token, state], training=False), "function": lambda: compiled(token, state)}


# ---- export ----


def export_step(step: keras.Model, cfg: CharModelConfig, metadata: dict[str, str]) -> onnx.ModelProto:
    """The step model through tf2onnx: inputs token [batch] int32, state [batch, layers, hidden];
    outputs logits [batch, vocab], state [batch, layers, hidden]."""
    import tf2onnx  # only the export needs it

    spec = (
        tf.TensorSpec((None,), tf.int32, name="token"),
        tf.TensorSpec((None, cfg.layers, cfg.hidden), tf.float32, name="state"),
    )
    proto, _ = tf2onnx.convert.from_keras(step, input_signature=spec, opset=17)
    renames = dict(zip([o.name for o in proto.graph.output], ["logits", "next_state"], strict=True))
    for node in proto.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
    for out in proto.graph.output:
        out.name = renames[out.name]
        dims = out.type.tensor_type.shape.dim
        dims[0].dim_param = "batch"
    for inp in proto.graph.input:
        inp.type.tensor_type.shape.dim[0].dim_param = "batch"
    _canonical_names(proto)
    proto.producer_name = "portal training.textgen.build (tf2onnx)"
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _canonical_names(proto: onnx.ModelProto) -> None:
    """Rename tf2onnx's counter-numbered nodes, tensors and initializers by their order in the graph, so the same
    weights always give the same bytes (a rebuild then does not re-commit an unchanged 10 MB file)."""
    graph = proto.graph
    keep = {v.name for v in (*graph.input, *graph.output)}
    names: dict[str, str] = {}

    def canonical(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for i, node in enumerate(graph.node):
        node.input[:] = [canonical(n) for n in node.input]
        node.output[:] = [canonical(n) for n in node.output]
        node.name = f"n{i}_{node.op_type}"
    for init in graph.initializer:
        init.name = canonical(init.name)
    ordered = sorted(graph.initializer, key=lambda t: int(t.name[1:]) if t.name[1:].isdigit() else -1)
    copies = [onnx.TensorProto.FromString(t.SerializeToString()) for t in ordered]
    del graph.initializer[:]
    graph.initializer.extend(copies)
    del graph.value_info[:]
