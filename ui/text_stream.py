"""Pieces of the text-generation page: streamed text rendered as markdown, the names table, and the model card."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence

import pandas as pd
import streamlit as st

from services.textgen import DinosaursCard, Name, ShakespeareCard, TextgenCard

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


def textgen_card(card: TextgenCard) -> None:
    """Quality against the goals and anchors, training record and data cleaning of both generators."""
    _shakespeare(card.shakespeare)
    _dinosaurs(card.dinosaurs)


def _shakespeare(card: ShakespeareCard) -> None:
    st.markdown("**Shakespeare** — validation loss in nats per character (last 10% of Tiny Shakespeare)")
    st.dataframe(
        pd.DataFrame(
            [
                ("this GRU (ONNX step graph, state carried)", card.validation_loss_nats),
                ("goal", card.val_loss_goal),
                ("nanoGPT, CPU configuration", card.nanogpt_cpu),
                ("nanoGPT, GPU configuration", card.nanogpt_gpu),
            ],
            columns=["model", "nats / character"],
        ),
        hide_index=True,
    )
    r, speed = card.recipe, card.speed
    st.markdown(
        f"Keras GRU {r.layers}×{r.hidden} (embedding {r.embedding}, dropout {r.dropout}), "
        f"trained {r.train_minutes} min on {r.device} ({r.epochs_run} epochs, best {r.best_epoch}; "
        f"goal ≤ {card.train_minutes_goal} min). Export: {r.export}; ONNX vs Keras max logit "
        f"difference {card.parity_max_abs_logit:.1e}."
    )
    st.markdown(
        f"**Speed at build time** (batch 1, {r.device}): one ONNX step {speed.onnx_us:.0f} µs; one Keras step "
        f"{speed.keras_eager_us:.0f} µs eager, {speed.keras_function_us:.0f} µs as a tf.function: ONNX is "
        f"{speed.ratio:.1f}x the faster Keras way (goal ≥ 3x). Sampling {speed.sampling_chars_per_s:,.0f} "
        "characters per second end to end (goal ≥ 2,000)."
    )


def _dinosaurs(card: DinosaursCard) -> None:
    novelty = card.novelty
    st.markdown("**Dinosaur names**")
    st.dataframe(
        pd.DataFrame(
            [
                ("validation loss (nats / character, held-out names)", f"{card.validation_loss_nats:.3f}"),
                ("training loss", f"{card.train_loss_nats:.3f}"),
                (
                    f"novel: of {novelty.samples:,} sampled names, not in the training list (goal ≥ "
                    f"{card.novel_share_goal:.0%})",
                    f"{novelty.novel_share:.1%}",
                ),
                ("distinct", f"{novelty.unique_share:.1%}"),
                ("look like names (first occurrence, real length, a common ending)", f"{novelty.name_like_share:.1%}"),
                ("beam search's top 10", ", ".join(novelty.beam_top10)),
            ],
            columns=["measure", "value"],
        ),
        hide_index=True,
    )
    cleaning = card.cleaning
    st.markdown(
        f"Cleaning of the course file: {cleaning.split} run-together lines split, {cleaning.dropped_not_names} "
        f"non-names dropped (Skeleton, Illustration), {cleaning.lowercased} lower-case entry folded, "
        f"{cleaning.dropped_repeats} repeats dropped; {card.names_train:,} names train, "
        f"{card.names_validation} validate."
    )


def names_table(names: Sequence[Name]) -> pd.DataFrame:
    """Names as the page lists them: capitalised, with the model's probability and whether each is real."""
    return pd.DataFrame(
        {
            "name": [n.name.capitalize() for n in names],
            "probability": [n.probability for n in names],
            "real genus (in training list)": [n.in_training for n in names],
        }
    )
