"""Pieces of the text-generation page: streamed text rendered as markdown, and the model card."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd
import streamlit as st

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!$|<>~])")
FLUSH_S = 0.05  # send the streamed text about 20 times a second: smooth, and light on the browser


def escape_markdown(text: str) -> str:
    """Text that st.markdown shows literally, line breaks included."""
    return _MARKDOWN.sub(r"\\\1", text).replace("\n", "  \n")


def markdown_stream(characters: Iterable[str]) -> Iterator[str]:
    """Characters grouped into chunks (one every FLUSH_S seconds) that render literally in markdown (line breaks
    kept, nothing formatted). Each chunk makes the browser redraw the whole text, so fewer is better."""
    buffer, last = "", time.perf_counter()
    for ch in characters:
        buffer += ch
        if time.perf_counter() - last >= FLUSH_S:
            yield escape_markdown(buffer)
            buffer, last = "", time.perf_counter()
    if buffer:
        yield escape_markdown(buffer)


def textgen_card(shakespeare: Mapping[str, Any], dinosaurs: Mapping[str, Any]) -> None:
    """Quality against the goals and anchors, training record and data cleaning of both generators."""
    try:
        _card(shakespeare, dinosaurs)
    except (KeyError, TypeError):
        st.info(
            "The manifest has no figures for these models; rebuild them with `python -m training textgen`.",
            icon=":material/info:",
        )


def _card(shakespeare: Mapping[str, Any], dinosaurs: Mapping[str, Any]) -> None:
    m, t = shakespeare["metrics"], shakespeare["training"]
    goals, anchors = m["goals"], m["anchors"]
    st.markdown("**Shakespeare** — validation loss in nats per character (last 10% of Tiny Shakespeare)")
    st.dataframe(
        pd.DataFrame(
            [
                ("this GRU (ONNX step graph, state carried)", m["validation_loss_nats"]),
                ("goal", goals["shakespeare_val_loss_max"]),
                ("nanoGPT, CPU configuration", anchors["nanogpt_cpu"]),
                ("nanoGPT, GPU configuration", anchors["nanogpt_gpu"]),
            ],
            columns=["model", "nats / character"],
        ),
        hide_index=True,
    )
    cfg = t["config"]
    st.markdown(
        f"Keras GRU {cfg['layers']}×{cfg['hidden']} (embedding {cfg['embedding']}, dropout {cfg['dropout']}), "
        f"trained {t['train_minutes']} min on {t['device']} ({t['epochs_run']} epochs, best {t['best_epoch']}; "
        f"goal ≤ {goals['shakespeare_train_minutes_max']} min). Export: {t['export']}; ONNX vs Keras max logit "
        f"difference {m['parity_max_abs_logit']:.1e}."
    )
    speed = m["speed"]
    st.markdown(
        f"**Speed at build time** (batch 1, {t['device']}): one ONNX step {speed['onnx_us']:.0f} µs; one Keras step "
        f"{speed['keras_eager_us']:.0f} µs eager, {speed['keras_function_us']:.0f} µs as a tf.function: ONNX is "
        f"{speed['ratio']:.1f}x the faster Keras way (goal ≥ 3x). Sampling {speed['sampling_chars_per_s']:,.0f} "
        "characters per second end to end (goal ≥ 2,000)."
    )
    d = dinosaurs["metrics"]
    novelty = d["novelty"]
    st.markdown("**Dinosaur names**")
    st.dataframe(
        pd.DataFrame(
            [
                ("validation loss (nats / character, held-out names)", f"{d['validation_loss_nats']:.3f}"),
                ("training loss", f"{d['train_loss_nats']:.3f}"),
                (
                    f"novel: of {novelty['samples']:,} sampled names, not in the training list (goal ≥ "
                    f"{d['goals']['names_novel_share_min']:.0%})",
                    f"{novelty['novel_share']:.1%}",
                ),
                ("distinct", f"{novelty['unique_share']:.1%}"),
                (
                    "look like names (first occurrence, real length, a common ending)",
                    f"{novelty['name_like_share']:.1%}",
                ),
                ("beam search's top 10", ", ".join(novelty["beam_top10"])),
            ],
            columns=["measure", "value"],
        ),
        hide_index=True,
    )
    cleaning = d["cleaning"]
    st.markdown(
        f"Cleaning of the course file: {cleaning['split']} run-together lines split, {cleaning['dropped_not_names']} "
        f"non-names dropped (Skeleton, Illustration), {cleaning['lowercased']} lower-case entry folded, "
        f"{cleaning['dropped_repeats']} repeats dropped; {d['names']['train']:,} names train, "
        f"{d['names']['validation']} validate."
    )
