"""Toxicity page pieces: the word-level explanation and the model card."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import pandas as pd
import streamlit as st

from services.toxicity import Explanation, Figures, Regression, ToxicityCard, ToxicityHeadsCard


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


def toxicity_card(card: ToxicityCard) -> None:
    """Goals, test figures beside the published ones, the hand-written sentences, and the encoder's record."""
    goals, regression, encoder = card.heads.goals, card.heads.regression, card.encoder
    st.markdown(
        f"**Goals:** Davidson weighted F1 ≥ {goals.davidson_weighted_f1} and hate-class F1 above the paper's; "
        f"OLID macro F1 ≥ {goals.olid_macro_f1_frozen} frozen, ≥ {goals.olid_macro_f1_finetuned} fine-tuned. "
        "Test splits: Davidson stratified 20% (seed 42), OLID's official 860-tweet test set."
    )
    st.dataframe(quality_table(card.heads))
    st.markdown(
        f"**Hand-written sentences** (score ≥ 0.5 counts as offensive): OLID head {regression.olid_correct}"
        f"/{regression.total}, Davidson head {regression.davidson_correct}/{regression.total} right."
    )
    st.dataframe(regression_table(regression), hide_index=True)
    st.markdown(
        f"**Encoder:** all-MiniLM-L6-v2 fine-tuned on both corpora in {encoder.train_seconds / 60:.0f} "
        f"min on {encoder.device}; ONNX vs PyTorch parity: min cosine "
        f"{encoder.parity_min_cosine:.6f} over {encoder.parity_texts:,} texts."
    )


def _row(name: str, figures: Figures) -> dict[str, Any]:
    return {
        "model": name,
        "Davidson weighted F1": figures.davidson_weighted_f1,
        "Davidson macro F1": figures.davidson_macro_f1,
        "hate precision": figures.hate.precision,
        "hate recall": figures.hate.recall,
        "hate F1": figures.hate.f1,
        "OLID macro F1": figures.olid_macro_f1,
    }


def quality_table(heads: ToxicityHeadsCard) -> pd.DataFrame:
    """Test figures of the served model, the frozen baseline and int8, beside the published anchors."""
    anchors = heads.anchors
    shipped = " (shipped: scores CSV batches)" if heads.int8.within_tolerance else " (not shipped)"
    rows = [
        _row("fine-tuned (served)", heads.served),
        _row("frozen encoder + LR", heads.frozen),
        _row("int8 encoder" + shipped, heads.int8),
        {
            "model": "published: Davidson LR / OffensEval winner",
            "Davidson weighted F1": anchors.davidson_paper_weighted_f1,
            "hate precision": anchors.davidson_paper_hate_precision,
            "hate recall": anchors.davidson_paper_hate_recall,
            "hate F1": anchors.davidson_paper_hate_f1,
            "OLID macro F1": anchors.olid_winner_macro_f1,
        },
    ]
    return pd.DataFrame(rows).set_index("model")


def regression_table(regression: Regression) -> pd.DataFrame:
    """The hand-written sentences with each head's score."""
    frame = pd.DataFrame([dataclasses.asdict(s) for s in regression.sentences])
    frame["expected"] = frame.pop("offensive").map({True: "offensive", False: "benign"})
    return frame.rename(columns={"text": "sentence", "olid": "OLID score", "davidson": "Davidson score"})
