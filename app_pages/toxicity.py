"""Toxic-comment classifier: one comment with probabilities, decision and word-level explanation; or a CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services import inputs, toxicity
from services.errors import PortalError
from ui.components import artifact_facts, caption
from ui.text_scores import explanation, quality_table, regression_table

EXAMPLES = {
    "Hate is everywhere but I don't hate you": "the sentence the original project kept failing",
    "Have a lovely weekend, and thanks again for the help!": "friendly",
    "That exam absolutely destroyed me lol": "violent words, benign meaning",
    "This is the dumbest take I have read all week": "rude",
    "Это отличная новость, поздравляю!": "Russian: outside the training language",
    "🔥🔥🔥 what a goal 🔥🔥🔥": "emoji",
}
HEAD_NAMES = {"olid": "OLID: offensive or not", "davidson": "Davidson: hate speech / offensive / neither"}
CSV_SCHEMA = inputs.CsvSchema(required={"text": "text"}, keep_other=True)


@st.cache_resource(show_spinner="Loading and timing the model…")
def _latency(sha256: str) -> float:  # keyed by the artifact's checksum
    return toxicity.measure_latency()


def _use_example() -> None:
    st.session_state["toxicity_text"] = st.session_state["toxicity_example"]


st.title("Toxic-comment classifier")
try:
    models = toxicity.load()
    latency = _latency(models.heads_model.entry["sha256"])
except PortalError as err:
    st.error(str(err), icon=":material/error:")
    st.stop()
caption(models.encoder_model, latency, "MiniLM-L6 fine-tuned + logistic-regression heads")
st.info(
    "Content note: the models learned from real tweets that contain slurs and abuse. The examples here are "
    "written for this page; no training rows are shown.",
    icon=":material/info:",
)
head = st.radio("Model", list(HEAD_NAMES), format_func=HEAD_NAMES.get, horizontal=True, key="toxicity_head")
threshold = st.slider("Flag as toxic from score", 0.05, 0.95, 0.5, 0.05, key="toxicity_threshold")
single_tab, batch_tab, card_tab = st.tabs(["One comment", "Many comments (CSV)", "About this model"])

with single_tab:
    st.selectbox(
        "Examples",
        list(EXAMPLES),
        format_func=lambda t: f"{t}  ({EXAMPLES[t]})",
        index=None,
        key="toxicity_example",
        on_change=_use_example,
        placeholder="Pick an example…",
    )
    text = st.text_area("Comment", key="toxicity_text", max_chars=inputs.MAX_TEXT_CHARS, height=110)
    if not text.strip():
        st.info("Type or paste a comment, or pick an example.", icon=":material/edit:")
    else:
        try:
            result = toxicity.classify(text, head=head, threshold=threshold)
            why = toxicity.explain(text, head=head)
        except PortalError as err:
            st.error(str(err), icon=":material/error:")
        else:
            verdict = "Toxic" if result.toxic else "Not toxic"
            kind = st.error if result.toxic else st.success
            kind(f"**{verdict}** — score {result.score:.2f} (threshold {threshold:.2f})", icon=":material/gavel:")
            for note in result.notes:
                st.warning(note, icon=":material/warning:")
            chart = pd.DataFrame(
                {"probability": result.probabilities[head].values()}, index=list(result.probabilities[head])
            )
            st.bar_chart(chart, horizontal=True, height=60 + 40 * len(chart), x_label="", y_label="probability")
            st.markdown("**What drives the score**")
            explanation(why)
            st.caption(
                f"{result.tokens} tokens · "
                + " · ".join(f"{k} {v:.1f} ms" for k, v in result.timings_ms.items())
                + f" · {result.provider}"
            )

with batch_tab:
    st.write("Upload a CSV with a `text` column (other columns are kept). Up to 5,000 comments.")
    upload = st.file_uploader("CSV file", type=["csv"], key="toxicity_csv")
    if upload is not None:
        try:
            frame = inputs.read_csv(upload.getvalue(), CSV_SCHEMA, max_rows=toxicity.MAX_BATCH)
            with st.spinner(f"Scoring {len(frame):,} comments…"):
                batch = toxicity.classify_many(frame["text"].tolist(), head=head)
        except PortalError as err:
            st.error(str(err), icon=":material/error:")
        else:
            frame["score"] = batch.scores.round(4)
            frame["decision"] = batch.decisions(threshold)
            frame["note"] = batch.notes()
            flagged = int((batch.scores >= threshold).sum())
            st.success(
                f"{len(frame):,} comments scored in {batch.timings_ms['encoder'] / 1000:.2f} s "
                f"({batch.precision} encoder): "
                f"{flagged:,} flagged at threshold {threshold:.2f}, {int(batch.empty.sum())} empty.",
                icon=":material/check:",
            )
            st.dataframe(frame, hide_index=True, width="stretch")
            st.download_button(
                "Download scores (CSV)",
                frame.to_csv(index=False).encode(),
                "toxicity_scores.csv",
                "text/csv",
                key="toxicity_download",
                icon=":material/download:",
            )

with card_tab:
    metrics = models.heads_model.entry["metrics"]
    goals = metrics["goals"]
    st.markdown(
        f"**Goals:** Davidson weighted F1 ≥ {goals['davidson_weighted_f1']} and hate-class F1 above the paper's; "
        f"OLID macro F1 ≥ {goals['olid_macro_f1_frozen']} frozen, ≥ {goals['olid_macro_f1_finetuned']} fine-tuned. "
        "Test splits: Davidson stratified 20% (seed 42), OLID's official 860-tweet test set."
    )
    st.dataframe(quality_table(metrics, metrics["anchors"]))
    regression = metrics["regression"]
    st.markdown(
        f"**Hand-written sentences** (score ≥ 0.5 counts as offensive): OLID head {regression['olid_correct']}"
        f"/{regression['total']}, Davidson head {regression['davidson_correct']}/{regression['total']} right."
    )
    st.dataframe(regression_table(regression), hide_index=True)
    encoder_entry = models.encoder_model.entry
    st.markdown(
        f"**Encoder:** all-MiniLM-L6-v2 fine-tuned on both corpora in {encoder_entry['training']['seconds'] / 60:.0f} "
        f"min on {encoder_entry['training']['device']}; ONNX vs PyTorch parity: min cosine "
        f"{encoder_entry['metrics']['parity_min_cosine']:.6f} over {encoder_entry['metrics']['parity_texts']:,} texts."
    )
    artifact_facts(models.encoder_model, latency)
    artifact_facts(models.heads_model, None)
