"""Toxicity page pieces: the word-level explanation and the model card's figures."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from services.toxicity import Explanation


def explanation(result: Explanation) -> None:
    """Words tinted by how much they add (red) or take away (green) from the score."""
    peak = max((abs(c) for c in result.contributions), default=0.0) or 1.0
    spans = []
    for word, change in zip(result.words, result.contributions, strict=True):
        alpha = min(1.0, abs(change) / peak) * 0.75
        colour = f"rgba(220, 38, 38, {alpha:.2f})" if change > 0 else f"rgba(22, 163, 74, {alpha:.2f})"
        tip = f"{change:+.3f} to the score"
        spans.append(
            f'<span title="{tip}" style="background:{colour};padding:1px 3px;border-radius:4px">'
            f"{html.escape(word)}</span>"
        )
    st.html(f'<div class="portal-explanation" style="line-height:2">{" ".join(spans)}</div>')
    top = sorted(zip(result.contributions, result.words, strict=True), reverse=True)[:3]
    drivers = ", ".join(f"“{w}” ({c:+.2f})" for c, w in top if c > 0.01)
    st.caption(
        (f"Words that raise the score most: {drivers}. " if drivers else "No single word raises the score much. ")
        + "Each word's effect is the score drop when that word is left out (occlusion), all variants in one call."
        + ("" if result.explained_all else f" Only the first {len(result.words)} words are explained.")
    )


def _row(name: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    davidson, hate = figures["davidson"], figures["davidson"]["per_class"]["hate speech"]
    return {
        "model": name,
        "Davidson weighted F1": davidson["weighted_f1"],
        "Davidson macro F1": davidson["macro_f1"],
        "hate precision": hate["precision"],
        "hate recall": hate["recall"],
        "hate F1": hate["f1"],
        "OLID macro F1": figures["olid"]["macro_f1"],
    }


def quality_table(metrics: Mapping[str, Any], anchors: Mapping[str, float]) -> pd.DataFrame:
    """Test figures of the served model, the frozen baseline and int8, beside the published anchors."""
    shipped = metrics["int8"]["within_tolerance"]
    rows = [
        _row("fine-tuned (served)", metrics),
        _row("frozen encoder + LR", metrics["frozen"]),
        _row("int8 encoder" + (" (shipped: scores CSV batches)" if shipped else " (not shipped)"), metrics["int8"]),
    ]
    rows.append(
        {
            "model": "published: Davidson LR / OffensEval winner",
            "Davidson weighted F1": anchors["davidson_paper_weighted_f1"],
            "hate precision": anchors["davidson_paper_hate_precision"],
            "hate recall": anchors["davidson_paper_hate_recall"],
            "hate F1": anchors["davidson_paper_hate_f1"],
            "OLID macro F1": anchors["olid_winner_macro_f1"],
        }
    )
    return pd.DataFrame(rows).set_index("model")


def regression_table(regression: Mapping[str, Any]) -> pd.DataFrame:
    """The hand-written sentences with each head's score."""
    frame = pd.DataFrame(regression["sentences"])
    frame["expected"] = frame.pop("offensive").map({True: "offensive", False: "benign"})
    return frame.rename(columns={"text": "sentence", "olid": "OLID score", "davidson": "Davidson score"})
