"""Toxic-comment classifier: one comment with probabilities, decision and word-level explanation; or a CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from api.snippets import Call
from services import inputs, toxicity
from services.errors import PortalError
from ui.api_snippet import use_via_api
from ui.scaffold import about, caption, load_or_stop, show_error, start, tabs
from ui.text_scores import explanation, toxicity_card

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


def _load() -> tuple[toxicity.Models, float]:
    models = toxicity.load()
    return models, _latency(models.heads_model.entry["sha256"])


demo = start("toxicity")
models, latency = load_or_stop(demo, _load)
caption(models.encoder_model, latency, "MiniLM-L6 fine-tuned + logistic-regression heads")
st.info(
    "Content note: the models learned from real tweets that contain slurs and abuse. The examples here are "
    "written for this page; no training rows are shown.",
    icon=":material/info:",
)
head = st.radio("Model", list(HEAD_NAMES), format_func=HEAD_NAMES.get, horizontal=True, key="toxicity_head")
threshold = st.slider("Flag as toxic from score", 0.05, 0.95, 0.5, 0.05, key="toxicity_threshold")
single_tab, batch_tab, card_tab = tabs(demo, ["One comment", "Many comments (CSV)", "About this model"])

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
            show_error(err)
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
            use_via_api(Call("POST", "/v1/toxicity/classify", json={"texts": [text], "head": head,
                                                                    "threshold": threshold}))  # fmt: skip

with batch_tab:
    st.write("Upload a CSV with a `text` column (other columns are kept). Up to 5,000 comments.")
    upload = st.file_uploader("CSV file", type=["csv"], key="toxicity_csv")
    if upload is not None:
        try:
            frame = inputs.read_csv(upload.getvalue(), CSV_SCHEMA, max_rows=toxicity.MAX_BATCH)
            with st.spinner(f"Scoring {len(frame):,} comments…"):
                batch = toxicity.classify_many(frame["text"].tolist(), head=head)
        except PortalError as err:
            show_error(err)
        else:
            frame = batch.table(frame, threshold)
            st.success(
                f"{len(frame):,} comments scored in {batch.timings_ms['encoder'] / 1000:.2f} s "
                f"({batch.precision} encoder): "
                f"{batch.flagged(threshold):,} flagged at threshold {threshold:.2f}, {int(batch.empty.sum())} empty.",
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
    if card_tab.open:
        try:
            card = toxicity.card(models)
        except PortalError as err:
            show_error(err)
        else:
            if card is None:
                st.info(
                    f"The manifest has no figures for these models; rebuild them with `{demo.rebuild}`.",
                    icon=":material/info:",
                )
            else:
                toxicity_card(card)
        about([models.encoder_model, models.heads_model], latency)
