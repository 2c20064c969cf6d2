"""Character-level generators: Shakespeare-like text streamed as it is written, and invented dinosaur names."""

from __future__ import annotations

import streamlit as st

from api.snippets import Call
from services import textgen
from services.errors import PortalError
from ui.api_snippet import use_via_api
from ui.scaffold import about, caption, load_or_stop, show_error, start, tabs
from ui.text_stream import escape_markdown, markdown_stream, names_table, textgen_card

PROMPTS = ("ROMEO:", "First Citizen:\nBefore we proceed any further,", "KING HENRY:\nNow, my lords,", "")


def _use_prompt() -> None:
    st.session_state["textgen_prompt"] = st.session_state["textgen_prompt_choice"]


def _sampling_controls(prefix: str, temperature: float, vocabulary: int) -> dict:
    cols = st.columns(4)
    return {
        "temperature": cols[0].slider(
            "Temperature", 0.0, 1.5, temperature, 0.05, key=f"{prefix}_temperature", help="0 = always the likeliest"
        ),
        "top_k": cols[1].number_input("Top-k (0 = off)", 0, vocabulary, 0, key=f"{prefix}_top_k") or None,
        "top_p": cols[2].slider("Top-p (1 = off)", 0.05, 1.0, 1.0, 0.05, key=f"{prefix}_top_p"),
        "seed": int(cols[3].number_input("Seed", 0, 2**31 - 1, 42, key=f"{prefix}_seed")),
    }


demo = start("textgen")
shakespeare, dinosaurs = load_or_stop(demo, lambda: (textgen.load("shakespeare"), textgen.load("dinosaurs")))
caption(shakespeare.loaded, None, f"GRU {shakespeare.layers}×{shakespeare.hidden}, one ONNX step per character")
card_error: PortalError | None = None
try:
    card = textgen.card(shakespeare, dinosaurs)
except PortalError as err:
    card, card_error = None, err
if card is not None:
    st.caption(
        f"Sampling: {card.shakespeare.speed.sampling_chars_per_s:,.0f} characters per second at batch 1 on the "
        "2-core build machine; each run below reports its own speed here."
    )
play_tab, names_tab, card_tab = tabs(demo, ["Shakespeare", "Dinosaur names", "About these models"])

with play_tab:
    st.selectbox(
        "Start from",
        PROMPTS,
        format_func=lambda p: p.split("\n")[0] or "(nothing)",
        key="textgen_prompt_choice",
        on_change=_use_prompt,
    )
    st.session_state.setdefault("textgen_prompt", PROMPTS[0])
    prompt = st.text_area("Prompt", max_chars=textgen.MAX_PROMPT_CHARS, height=80, key="textgen_prompt")
    length = st.slider("Characters to write", 50, 3000, 600, 50, key="textgen_length")
    settings = _sampling_controls("textgen", 0.8, len(shakespeare.symbols))
    clicked = st.button("Write", type="primary", icon=":material/edit_note:", key="textgen_write")
    if clicked:
        try:
            generation = textgen.stream(prompt, max_new_tokens=length, **settings)
        except PortalError as err:
            show_error(err)
            clicked = False
    result = st.session_state.get("textgen_result")
    if clicked or result:
        with st.container(border=True):
            if clicked:
                st.markdown(escape_markdown(generation.prompt.text))
                st.write_stream(markdown_stream(generation))
                result = {
                    "prompt": generation.prompt.text,
                    "text": generation.text,
                    "rate": generation.chars_per_second,
                    "notes": generation.notes,
                }
                st.session_state["textgen_result"] = result
            else:
                st.markdown(escape_markdown(result["prompt"] + result["text"]))
        for note in result["notes"]:
            st.warning(note, icon=":material/warning:")
        st.success(
            f"{len(result['text']):,} characters at {result['rate']:,.0f} characters per second (model time)",
            icon=":material/speed:",
        )
        full = result["prompt"] + result["text"]
        with st.expander("Plain text to copy"):
            st.code(full, language=None, wrap_lines=True)  # the copy button is in its corner
        st.download_button("Download (.txt)", full.encode(), "shakespeare.txt", "text/plain", key="textgen_download")
        use_via_api(
            Call("POST", "/v1/textgen/generate", json={"prompt": prompt, "max_new_tokens": length, **settings}),
            'With the same seed it writes the same text; add "stream": true for Server-Sent Events as it writes.',
        )

with names_tab:
    st.write(
        "A small GRU learned dinosaur genus names letter by letter. Invent new ones by sampling, or ask beam search "
        "for the names it finds most likely. A tick marks a name from the training list (a real genus)."
    )
    prefix = st.text_input("Names start with", "", max_chars=20, key="names_prefix", placeholder="e.g. tyr")
    count = st.slider("How many", 1, 50, 12, key="names_count")
    name_settings = _sampling_controls("names", 1.0, len(dinosaurs.symbols))
    sample_col, beam_col = st.columns(2)
    if sample_col.button("Invent names", type="primary", icon=":material/casino:", key="names_sample"):
        try:
            sampled = textgen.sample_names(count, prefix=prefix, **name_settings)
        except PortalError as err:
            show_error(err)
        else:
            st.session_state["names_result"] = sampled
    if beam_col.button("Most likely names (beam search)", icon=":material/trending_up:", key="names_beam"):
        try:
            st.session_state["names_result"] = textgen.beam_names(prefix, count=min(count, 16))
        except PortalError as err:
            show_error(err)
    names = st.session_state.get("names_result")
    if names:
        table = names_table(names)
        st.dataframe(
            table, hide_index=True, column_config={"probability": st.column_config.NumberColumn(format="%.2e")}
        )
        st.download_button(
            "Download names (.txt)",
            "\n".join(table["name"]).encode(),
            "dinosaur_names.txt",
            "text/plain",
            key="names_download",
        )
        use_via_api(Call("POST", "/v1/textgen/names", json={"count": count, "prefix": prefix, **name_settings}),
                    'For the likeliest names instead: "method": "beam".')  # fmt: skip

with card_tab:
    if card_tab.open:
        if card_error is not None:
            show_error(card_error)
        elif card is None:
            st.info(
                f"The manifest has no figures for these models; rebuild them with `{demo.rebuild}`.",
                icon=":material/info:",
            )
        else:
            textgen_card(card)
        about([shakespeare.loaded, dinosaurs.loaded])
