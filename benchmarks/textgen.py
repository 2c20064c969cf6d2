"""Text generation: held-out quality of the committed generators, sampling speed, and one ONNX step vs one
Keras step in the same process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import Row, print_table
from services import textgen
from services.registry import Registry
from services.settings import load_settings
from training.textgen import net as tk
from training.textgen.build import BUILD, SHAKESPEARE_CONFIG
from training.textgen.data import dinosaur_names, shakespeare
from training.textgen.evaluate import GOALS, NATS_ANCHORS, names_loss, novelty, sampling_rate, step_timings, stream_loss

GENERATE_CHARS = 1_000


def _keras_step(model: textgen.CharModel) -> tuple[object, str]:
    """The Keras step model with the trained weights when the checkpoint is here, else the same architecture
    with random weights (a step costs the same whatever the weights)."""
    cfg = SHAKESPEARE_CONFIG
    sequence = tk.sequence_model(cfg)
    checkpoint = BUILD / "shakespeare" / "best.weights.h5"
    if checkpoint.exists():
        sequence.load_weights(checkpoint)
        source = "trained weights (build/textgen checkpoint)"
    else:
        source = "same architecture, random weights (no checkpoint here; a step costs the same)"
    assert (model.layers, model.hidden) == (cfg.layers, cfg.hidden)
    return tk.step_model(sequence, cfg), source


def run(data_dir: Path, repeats: int) -> None:
    registry = Registry(load_settings().models_dir, load_settings().providers)
    model = textgen.load("shakespeare", registry)
    names_model = textgen.load("dinosaurs", registry)
    entry = model.loaded.entry
    corpus = shakespeare(data_dir)
    names = dinosaur_names(data_dir)
    print("measuring validation loss over 111,540 characters (ONNX step graph, state carried)...")
    val_loss = stream_loss(model, tk.encode(corpus.validation, list(model.symbols)))
    minutes = entry["training"]["train_minutes"]
    found = novelty(names_model, names.train)
    quality = [
        Row("Shakespeare validation loss (nats/char)", f"{val_loss:.4f}", f"<= {GOALS['shakespeare_val_loss_max']}",
            val_loss <= GOALS["shakespeare_val_loss_max"]),
        Row("  anchors: nanoGPT CPU / GPU configuration", "{nanogpt_cpu} / {nanogpt_gpu}".format(**NATS_ANCHORS)),
        Row("Shakespeare training time (minutes)", f"{minutes} on {entry['training']['device']}",
            f"<= {GOALS['shakespeare_train_minutes_max']}", minutes <= GOALS["shakespeare_train_minutes_max"]),
        Row("export parity (max |logit| ONNX vs Keras)", f"{entry['metrics']['parity_max_abs_logit']:.1e}"),
        Row("dinosaur names validation loss (nats/char)", f"{names_loss(names_model, names.validation):.4f}"),
        Row("names sampled not in the training list", f"{found['novel_share']:.1%}",
            f">= {GOALS['names_novel_share_min']:.0%}", found["novel_share"] >= GOALS["names_novel_share_min"]),
        Row("names that look like names", f"{found['name_like_share']:.1%}"),
        Row("names distinct", f"{found['unique_share']:.1%}"),
        Row("beam search top 5", ", ".join(found["beam_top10"][:5])),
    ]  # fmt: skip
    print_table("Text generation: quality (held-out data)", quality)

    rate = sampling_rate(model, chars=GENERATE_CHARS, runs=max(3, repeats // 10))
    keras_step, source = _keras_step(model)
    times = step_timings(
        model, tk.keras_step_calls(keras_step, np.array([1], np.int32), model.initial_state(1)), repeats
    )
    speed = [
        Row(f"Shakespeare sampling, batch 1 ({GENERATE_CHARS:,} chars, end to end)", f"{rate:,.0f} chars/s",
            ">= 2,000 chars/s", rate >= 2_000),
        Row("one ONNX step (onnxruntime)", f"{times['onnx_us']:.0f} us"),
        Row("one Keras step, eager call", f"{times['keras_eager_us']:.0f} us"),
        Row("one Keras step, tf.function", f"{times['keras_function_us']:.0f} us"),
        Row("speed ratio ONNX vs Keras (faster Keras way)", f"{times['ratio']:.1f}x", ">= 3x", times["ratio"] >= 3),
        Row("  Keras reference", source),
    ]  # fmt: skip
    print_table(f"Text generation: speed (median, {model.loaded.provider})", speed)
