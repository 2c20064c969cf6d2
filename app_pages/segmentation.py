"""Person segmentation: a U-Net finds the people in a photo; blur, remove or recolour the background."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from api.snippets import Call
from services import segmentation
from services.errors import PortalError
from services.live import SEGMENTATION_SIZE, segmentation_effect
from services.vision import to_png
from ui.api_snippet import photo_file, use_via_api
from ui.live import live_view
from ui.photo_input import LIVE, choose_photo
from ui.scaffold import about, caption, load_or_stop, show_error, start, tabs
from ui.segmentation_card import segmentation_card

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


demo = start("segmentation")
loaded = load_or_stop(demo, segmentation.model)

play_tab, card_tab = tabs(demo, ["Segment a photo", "About this model"])

with play_tab:
    try:
        photo, label = choose_photo("segmentation", default_sample="astronaut", live=True)
    except PortalError as err:
        show_error(err)
        photo, label = None, ""

    st.caption(
        "Our U-Net learned from 6,108 everyday photos: people's masks where they exist, two teachers' masks "
        "(DeepLabV3, MediaPipe selfie) elsewhere; the teachers are not part of the portal. Trained from scratch on a "
        "2-core CPU, it finds faces and bodies with soft, uncertain edges and sometimes takes in what stands beside "
        "a person: see *About this model* for its figures."
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

    if label == LIVE:
        live_view("segmentation", segmentation_effect(effect, **options), SEGMENTATION_SIZE)
    elif photo is None:
        st.info("Upload a photo or take one with the camera to find the people in it.", icon=":material/photo_camera:")
    else:
        try:
            seg = _segment(photo, loaded.entry["sha256"])
            result = segmentation.apply_effect(photo, seg, effect, **options)
        except PortalError as err:
            show_error(err)
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
            st.download_button(
                "Download PNG" + (" (transparent background)" if effect == "remove" else ""),
                functools.partial(to_png, result),  # encoded only when the button is pressed
                segmentation.file_name(label, effect, result),
                "image/png",
                key="segmentation_download",
                icon=":material/download:",
            )
            path, note = photo_file(label)
            form = {"output": "effect", "effect": effect, **options}
            use_via_api(Call("POST", "/v1/segmentation", upload=("image", path), form=form, save_as="segmented.png"),
                        f'{note} "output": "mask" gives the mask itself.')  # fmt: skip

with card_tab:
    if card_tab.open:
        try:
            card = segmentation.card(loaded)
        except PortalError as err:  # a drifted entry: the message names the missing value and the rebuild command
            show_error(err)
        else:
            if card is None:
                st.info(
                    f"The manifest has no figures for this model; rebuild it with `{demo.rebuild}`.",
                    icon=":material/info:",
                )
            else:
                segmentation_card(card)
        caption(loaded, None, "Person U-Net")
        about([loaded])
