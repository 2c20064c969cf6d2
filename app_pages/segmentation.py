"""Person segmentation: a U-Net finds the people in a photo; blur, remove or recolour the background."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from services import segmentation
from services.errors import PortalError
from services.vision import to_png
from ui.components import artifact_facts, caption
from ui.photo_input import choose_photo
from ui.vision_cards import segmentation_card

EFFECT_LABELS = {
    "overlay": "Highlight the people",
    "blur": "Blur the background",
    "remove": "Remove the background",
    "colour": "Replace the background",
}


@st.cache_data(max_entries=12, show_spinner=False)
def _segment(photo: np.ndarray, version: str) -> segmentation.Segmentation:
    del version  # part of the cache key only
    return segmentation.segment(photo)


st.title("Person segmentation")
problem = segmentation.status()
if problem:
    st.error(f"The segmentation model could not be loaded. {problem}", icon=":material/error:")
    st.stop()
loaded = segmentation.model()

play_tab, card_tab = st.tabs(["Segment a photo", "About this model"])

with play_tab:
    try:
        photo, label = choose_photo("segmentation", default_sample="astronaut")
    except PortalError as err:
        st.error(str(err), icon=":material/error:")
        photo, label = None, ""

    st.caption(
        "Trained on whole walking people at street distance (Penn-Fudan): close-ups such as portraits are only "
        "partly found."
    )
    effect = st.radio(
        "Effect", segmentation.EFFECTS, format_func=EFFECT_LABELS.get, horizontal=True, key="segmentation_effect"
    )
    c1, c2 = st.columns(2)
    options: dict[str, float | str] = {}
    if effect in ("overlay", "colour"):
        options["colour"] = c1.color_picker(
            "Colour", "#1E90FF" if effect == "overlay" else "#00B140", key=f"segmentation_colour_{effect}"
        )
    if effect == "overlay":
        options["opacity"] = c2.slider("Tint strength", 0.1, 1.0, 0.5, 0.05, key="segmentation_opacity")
    if effect == "blur":
        options["blur_radius"] = c1.slider("Blur radius (px)", 2, 40, 12, 1, key="segmentation_blur")
    options["softness"] = c2.slider(
        "Edge softness",
        0.0,
        1.0,
        0.3,
        0.05,
        key="segmentation_softness",
        help="0 = hard mask edges; higher = a gradual edge where the network is unsure",
    )

    if photo is None:
        st.info("Upload a photo or take one with the camera to find the people in it.", icon=":material/photo_camera:")
    else:
        try:
            seg = _segment(photo, loaded.entry["sha256"])
            result = segmentation.apply_effect(photo, seg, effect, **options)
        except PortalError as err:
            st.error(str(err), icon=":material/error:")
        else:
            left, right = st.columns(2)
            left.image(photo, caption="Your photo", width="stretch")
            right.image(result, caption=EFFECT_LABELS[effect], width="stretch")
            st.caption(
                f"{seg.person_share:.1%} of the photo is person · {photo.shape[1]}×{photo.shape[0]} px · "
                f"{seg.ms:.0f} ms end to end on {seg.provider}"
            )
            if seg.person_share < 0.005:
                st.info(
                    "No person found. This model was trained on pedestrians only; other objects stay background.",
                    icon=":material/person_search:",
                )
            digest = hashlib.sha256(result.tobytes()).hexdigest()[:8]
            st.download_button(
                "Download PNG" + (" (transparent background)" if effect == "remove" else ""),
                to_png(result),
                f"{label}_{effect}_{digest}.png",
                "image/png",
                key="segmentation_download",
                icon=":material/download:",
            )

with card_tab:
    segmentation_card(loaded.entry)
    caption(loaded, None, "Person U-Net")
    artifact_facts(loaded, None)
