"""Held-out figures of the text generators, measured on the exported ONNX step graphs (what the portal serves)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from services.textgen import CharModel, Generation, Prompt, Sampling, beam_from, names_from
from services.timing import median_call_ms

NATS_ANCHORS = {"nanogpt_cpu": 1.88, "nanogpt_gpu": 1.47}  # nanoGPT shakespeare_char validation loss
GOALS = {"shakespeare_val_loss_max": 1.50, "shakespeare_train_minutes_max": 60, "names_novel_share_min": 0.90}
NOVELTY_SAMPLES = 1_000
NOVELTY_SEED = 0
ENDING_LETTERS = 3
ENDING_MIN_NAMES = 3  # an ending is plausible when at least this many training names end with it


def _cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -log_probs[np.arange(len(targets)), targets]


def stream_loss(model: CharModel, ids: np.ndarray, streams: int = 64) -> float:
    """Mean nats per character over a text, its state carried from character to character.

    The text is cut into `streams` contiguous pieces stepped side by side (one batched step per position).
    """
    length = (len(ids) - 1) // streams
    starts = np.arange(streams) * length
    state = model.initial_state(streams)
    total = 0.0
    for t in range(length):
        logits, state = model.step(ids[starts + t], state)
        total += _cross_entropy(logits, ids[starts + t + 1]).sum()
    return total / (length * streams)


def names_loss(model: CharModel, names: Sequence[str]) -> float:
    """Mean nats per character over names, each read from the start symbol, its end symbol predicted too."""
    assert model.end is not None
    rows = [[model.index[c] for c in model.end + name + model.end] for name in names]
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), np.int64)
    mask = np.zeros((len(rows), width - 1), bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r) - 1] = True
    state = model.initial_state(len(rows))
    total = 0.0
    for t in range(width - 1):
        logits, state = model.step(ids[:, t], state)
        total += _cross_entropy(logits, ids[:, t + 1])[mask[:, t]].sum()
    return total / mask.sum()


def novelty(model: CharModel, train: Sequence[str]) -> dict[str, object]:
    """Of 1,000 names sampled at temperature 1 (fixed seed): the share not in the training list, and the share
    that look like names (a first occurrence, a length seen in training, an ending at least 3 training names share).
    """
    sampled = [n.name for n in names_from(model, NOVELTY_SAMPLES, "", Sampling(1, 1.0, None, None, NOVELTY_SEED))]
    known = set(train)
    lengths = [len(n) for n in train]
    endings = Counter(n[-ENDING_LETTERS:] for n in train)
    seen: set[str] = set()
    name_like = 0
    for name in sampled:
        first = name not in seen
        seen.add(name)
        plausible = min(lengths) <= len(name) <= max(lengths) and endings[name[-ENDING_LETTERS:]] >= ENDING_MIN_NAMES
        name_like += first and plausible
    novel = [n for n in sampled if n not in known]
    return {
        "samples": NOVELTY_SAMPLES,
        "seed": NOVELTY_SEED,
        "temperature": 1.0,
        "novel_share": len(novel) / len(sampled),
        "unique_share": len(seen) / len(sampled),
        "name_like_share": name_like / len(sampled),
        "mean_length": float(np.mean([len(n) for n in sampled])),
        "training_mean_length": float(np.mean(lengths)),
        "examples_novel": sorted(set(novel))[:: max(1, len(set(novel)) // 12)][:12],
        "beam_top10": [n.name for n in beam_from(model, "", 16, 10)],
    }


def step_parity(model: CharModel, reference_logits: np.ndarray, ids: np.ndarray) -> float:
    """Max |logit difference| between the ONNX step graph run over ids [rows, time] and the Keras sequence
    model's logits [rows, time, vocab] on the same ids."""
    state = model.initial_state(len(ids))
    worst = 0.0
    for t in range(ids.shape[1]):
        logits, state = model.step(ids[:, t], state)
        worst = max(worst, float(np.abs(logits - reference_logits[:, t]).max()))
    return worst


def sampling_rate(model: CharModel, *, chars: int = 1_000, runs: int = 5) -> float:
    """Median characters per second of the service's sampling loop at batch 1, prompt 'ROMEO:', end to end."""
    rates = []
    for seed in range(runs):
        start = time.perf_counter()
        for _ in Generation(model, Prompt("ROMEO:", ()), Sampling(chars, 0.8, seed=seed)):
            pass
        rates.append(chars / (time.perf_counter() - start))
    return float(np.median(rates))


def step_timings(model: CharModel, keras_calls: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median microseconds of one ONNX step and of one Keras step (each way of calling Keras), batch 1, same
    process; the ratio is against the fastest Keras way."""
    token, state = np.array([1], np.int32), model.initial_state(1)
    out = {"onnx_us": 1000 * median_call_ms(lambda: model.step(token, state), repeats=repeats * 20, warmup=20)}
    for name, call in keras_calls.items():
        out[f"keras_{name}_us"] = 1000 * median_call_ms(call, repeats=repeats, warmup=3)
    out["ratio"] = min(v for k, v in out.items() if k.startswith("keras_")) / out["onnx_us"]
    return {k: round(v, 2) for k, v in out.items()}
