"""Object detection: our own YOLO (36 everyday classes and raccoon, taught partly by YOLOX-Nano) or YOLOX-Nano itself
(80 COCO classes) on a photo."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from api.snippets import Call
from services import detection
from services.errors import PortalError
from services.live import DETECTION_SIZE, detection_effect
from services.registry import default_registry
from services.vision import to_png
from ui.api_snippet import photo_file, use_via_api
from ui.detection_card import detection_card
from ui.live import live_view
from ui.photo_input import LIVE, choose_photo
from ui.scaffold import about, caption, show_error, start, tabs

LABELS = {name: detector.title for name, detector in detection.DETECTORS.items()}


@st.cache_data(max_entries=24, show_spinner=False)
def _detect(photo: np.ndarray, model: str, confidence: float, iou: float, version: str) -> detection.Detections:
    del version  # part of the cache key only: new weights, new answers
    return detection.detect(photo, model, confidence=confidence, iou=iou)


def _yolox_help(problem: str | None) -> None:
    st.markdown(
        "**Want 80 everyday classes?** YOLOX-Nano (Megvii, Apache-2.0, 3.7 MB) is not part of the portal; it is "
        "downloaded from the official YOLOX release and checked against its recorded sha256."
    )
    if problem:
        st.caption(f":material/info: {problem}")
    if st.button("Download YOLOX-Nano", key="detection_get_yolox", icon=":material/download:"):
        with st.spinner("Downloading YOLOX-Nano…"):
            try:
                detection.download_yolox()
            except PortalError as err:
                show_error(err)
            else:
                st.rerun()


def _results(photo: np.ndarray, label: str, found: detection.Detections, model: str, confidence: float) -> None:
    present = list(found.counts())
    shown = st.multiselect(
        "Show classes",
        present,
        default=present,
        key=f"detection_classes_{model}_{label}_{hashlib.sha256(photo.tobytes()).hexdigest()[:8]}",
        placeholder="pick classes to show" if present else "no objects found",
    )
    chosen = found.only(shown)
    annotated = detection.annotate(photo, chosen)
    left, right = st.columns([3, 2])
    left.image(annotated, width="stretch")
    left.caption(
        f"{len(chosen)} of {len(found)} objects shown · {photo.shape[1]}×{photo.shape[0]} px · "
        f"{found.ms:.0f} ms end to end on {found.provider}"
    )
    with right:
        if len(found):
            counts = pd.DataFrame(found.count_rows())
            counts["shown"] = counts["class"].isin(shown)
            best = st.column_config.ProgressColumn(min_value=0, max_value=1)
            st.dataframe(counts, hide_index=True, width="stretch", column_config={"best score": best})
        else:
            other = ", or try YOLOX-Nano for other kinds of objects." if model == detection.OWN else "."
            hint = f"Nothing found at confidence {confidence:.2f}. Lower the threshold{other}"
            st.info(hint, icon=":material/search_off:")
        name = f"{label}_{model}_{hashlib.sha256(annotated.tobytes()).hexdigest()[:8]}.png"
        st.download_button(
            "Download annotated PNG", functools.partial(to_png, annotated), name, "image/png", key="detection_download",
            icon=":material/download:",
        )  # fmt: skip
    if len(chosen):
        with st.expander("Boxes (pixels of the photo)"):
            st.dataframe(pd.DataFrame(chosen.box_rows()), hide_index=True, width="stretch")


demo = start("detection")
status = detection.models_status()
ready = [m for m in detection.MODELS if status[m] is None]
if not ready:
    st.error(f"No detector could be loaded. {status[detection.OWN]}", icon=":material/error:")
    _yolox_help(status[detection.YOLOX])
    st.stop()

play_tab, card_tab = tabs(demo, ["Detect objects", "About these models"])

with play_tab:
    model = st.radio("Detector", ready, format_func=LABELS.get, horizontal=True, key="detection_model")
    info = detection.info(model)
    if model == detection.OWN:
        st.caption(
            f"Active: **{info.title}** — trained here from scratch on about 6,000 photos (COCO, imagenette, "
            f"BSDS500, Penn-Fudan, raccoons), boxed by people or, where nobody had, by YOLOX-Nano as a teacher; "
            f"input {info.input_size}×{info.input_size}, NMS inside the ONNX graph. It names {len(info.classes)} "
            f"classes: {', '.join(info.classes)}. YOLOX-Nano knows 80."
        )
    else:
        size = f"{info.input_size}×{info.input_size}"
        st.caption(f"Active: **{info.title}** — official COCO weights ({info.licence}), {size}.")
    if status[detection.YOLOX] is not None:
        with st.expander("Get the COCO detector (YOLOX-Nano)", icon=":material/download:"):
            _yolox_help(status[detection.YOLOX])
    elif status[detection.OWN] is not None:
        st.warning(f"Our YOLO is unavailable: {status[detection.OWN]}", icon=":material/warning:")
    try:
        photo, label = choose_photo("detection", default_sample="astronaut", live=True)
    except PortalError as err:
        show_error(err)
        photo, label = None, ""
    c1, c2 = st.columns(2)
    confidence = c1.slider(
        "Confidence threshold", 0.05, 0.95, 0.3, 0.05, key="detection_confidence", help="hide boxes scoring lower"
    )
    iou = c2.slider(
        "NMS IoU threshold", 0.1, 0.9, 0.45, 0.05, key="detection_iou",
        help="of two boxes of one class overlapping more than this, only the better one is kept",
    )  # fmt: skip

    if label == LIVE:
        only = st.multiselect("Show only these classes", list(info.classes), key=f"detection_live_classes_{model}",
                              placeholder="every class")  # fmt: skip
        live_view("detection", detection_effect(model, confidence=confidence, iou=iou, classes=only or None),
                  DETECTION_SIZE)  # fmt: skip
    elif photo is None:
        st.info("Upload a photo or take one with the camera to find objects in it.", icon=":material/photo_camera:")
    else:
        try:
            found = _detect(photo, model, confidence, iou, info.version)
        except PortalError as err:
            show_error(err)
        else:
            _results(photo, label, found, model, confidence)
            path, note = photo_file(label)
            form = {"model": model, "confidence": confidence, "iou": iou}
            use_via_api(Call("POST", "/v1/detection", upload=("image", path), form=form),
                        f'{note} The boxes come back as JSON; "format": "png" gives the picture.')  # fmt: skip

with card_tab:
    if card_tab.open:
        if status[detection.OWN] is not None:
            st.warning(f"Our YOLO's model card is unavailable: {status[detection.OWN]}", icon=":material/warning:")
        else:
            try:
                card = detection.card()
            except PortalError as err:  # CardError: the entry has drifted from DetectionCard
                show_error(err)
            else:
                detection_card(card, yolox_ready=status[detection.YOLOX] is None)
            loaded = default_registry().load(detection.OWN_KEY)
            caption(loaded, None, "Our YOLO")
            about([loaded])
        if status[detection.YOLOX] is None:
            y = detection.info(detection.YOLOX)
            st.markdown(f"**{y.title}:** {y.licence}; from {y.source}; file sha256 `{y.version[:16]}…`.")
