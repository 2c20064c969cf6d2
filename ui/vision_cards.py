"""Model cards of the detection and segmentation demos: held-out figures, training record, speed against goals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

CARD_ERRORS = (KeyError, TypeError, ValueError)


def _missing(demo: str) -> None:
    st.info(
        f"The manifest has no figures for this model; rebuild it with `python -m training {demo}`.",
        icon=":material/info:",
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _detector_rows(model: str, held_out: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "model": model,
            "class": name,
            "images": r["images"],
            "objects": r["ground_truth"],
            "AP@0.5": f"{r['ap50']:.3f}",
            "recall": f"{_pct(r['recall'])} ({r['found']}/{r['ground_truth']})",
            "precision": _pct(r["precision"]),
        }
        for name, r in held_out.items()
    ]


def detection_card(entry: Mapping[str, Any], *, yolox_ready: bool) -> None:
    try:
        _detection_card(entry, yolox_ready)
    except CARD_ERRORS:
        _missing("detection")


def _detection_card(entry: Mapping[str, Any], yolox_ready: bool) -> None:
    m, t, card, data = entry["metrics"], entry["training"], entry["card"], entry["data"]
    goals = card["goals"]
    st.markdown(f"**Our YOLO.** {card['architecture']}.")
    yolox = m["yolox_nano"]
    rows = _detector_rows("our YOLO", m["held_out"])
    if yolox.get("available"):
        rows += _detector_rows("YOLOX-Nano", yolox["held_out"])
        raccoon = m["held_out"].get("raccoon", {})
        rows.append(
            {
                "model": "YOLOX-Nano",
                "class": "raccoon",
                "images": raccoon.get("images"),
                "objects": raccoon.get("ground_truth"),
                "AP@0.5": "n/a",
                "recall": "no COCO raccoon class",
                "precision": "n/a",
            }
        )
    op = m["operating_point"]
    st.markdown(
        f"**Held-out figures** ({data['held_out_images']} images never trained on: {data['split']}). AP@0.5: area "
        "under the precision-recall curve, a detection counting when it overlaps an unclaimed true box by IoU ≥ 0.5. "
        f"Recall and precision at the page's defaults: score ≥ {op['score']}, NMS IoU {op['nms_iou']}. Penn-Fudan "
        "leaves some people unannotated (far away or hidden), so precision on it reads low."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown(f"Mean AP@0.5 of our YOLO over its two classes: **{m['map50']:.3f}**.")
    alarms = m.get("false_alarms")
    if alarms:
        st.markdown(
            f"**False alarms.** On {alarms['photos']} BSDS500 test photos with neither class (no person by "
            f"YOLOX-Nano's judgement), {alarms['photos_with_false_alarm']} ({alarms['share']:.0%}) got a box at "
            f"score ≥ {op['score']} ({alarms['false_alarms']} boxes in all). Our YOLO has seen 296 photos of two "
            "kinds: furry animals and close-ups of textured things can come out as *raccoon* (the cat sample does). "
            "For everyday scenes, YOLOX-Nano is the detector to use."
        )
    if yolox.get("available"):
        every = yolox["penn_fudan_all_170"]
        st.markdown(
            f"YOLOX-Nano on all 170 Penn-Fudan images: {every['found']} of {every['ground_truth']} pedestrians found "
            f"at score 0.3 / NMS 0.45 (the dataset notes record 414 of 423 for this check)."
        )
    else:
        st.markdown(f"YOLOX-Nano was not evaluated when this model was built: {yolox.get('reason', '')}")
    minutes = t["seconds"] / 60
    st.markdown(
        f"**Training.** {t['steps']:,} steps of {t['config']['batch']} augmented {t['config']['net']['input_size']}² "
        f"images (mosaic of four images for half of them, random scale and placement, flips, colour jitter; the "
        f"last {t['config']['no_mosaic_tail']:.0%} without mosaic) from {t['train_images']} photos with "
        f"{t['train_boxes']} boxes and {t.get('background_photos', 0)} person-free background photos; AdamW, "
        f"warm-up then cosine decay, weights averaged (EMA); {minutes:.1f} min on "
        f"{t['device']} (budget {goals['training_minutes']:.0f} min)."
    )
    st.markdown(
        f"**Speed at build time:** {m['ms_per_image_at_build']:.1f} ms per photo end to end (goal ≤ "
        f"{goals['own_ms']:.0f} ms on 2 CPU cores; YOLOX-Nano's goal ≤ {goals['yolox_ms']:.0f} ms). "
        "`python -m benchmarks detection` measures both detectors against PyTorch in one process."
    )
    if not yolox_ready:
        st.markdown(
            "**YOLOX-Nano** is not on this machine; the *Get the COCO detector* panel on the first tab downloads it."
        )


def segmentation_card(entry: Mapping[str, Any]) -> None:
    try:
        _segmentation_card(entry)
    except CARD_ERRORS:
        _missing("segmentation")


def _segmentation_card(entry: Mapping[str, Any]) -> None:
    m, t, card, data = entry["metrics"], entry["training"], entry["card"], entry["data"]
    goals = card["goals"]
    held = m["held_out"]
    st.markdown(f"**Network.** {card['architecture']}.")
    verdict = "met" if held["iou"] >= goals["iou"] else "short of the goal"
    st.markdown(
        f"**Held-out figures** ({held['images']} Penn-Fudan images never trained on: {data['split']}). Person pixels "
        f"at probability ≥ {entry['metadata']['threshold']}, compared with the dataset's masks at full resolution."
    )
    rows = [
        {"images": "held out", **{k: held[k] for k in ("iou", "dice", "mean_image_iou", "pixel_accuracy")}},
        {
            "images": "training (34)",
            **{k: m["train_subset"][k] for k in ("iou", "dice", "mean_image_iou", "pixel_accuracy")},
        },
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown(f"Held-out IoU {held['iou']:.3f} against a goal of {goals['iou']}: **{verdict}**.")
    st.markdown(
        f"**Training.** {t['steps']:,} steps of {t['config']['batch']} random {t['config']['crop']}² crops at the "
        f"serving scale (flips, colour jitter) from {t['train_images']} photos; Adam with cosine decay; loss = binary "
        f"cross-entropy + soft Dice; {t['seconds'] / 60:.1f} min on {t['device']} (budget "
        f"{goals['training_minutes']:.0f} min). Keras {t['tensorflow']} → ONNX with tf2onnx {t['tf2onnx']}; largest "
        f"difference Keras vs onnxruntime {m['parity_max_abs']:.1e}."
    )
    st.markdown(
        f"**Speed at build time:** {m['ms_per_image_at_build']:.1f} ms per photo end to end at "
        f"{entry['metadata']['input_size']}² (goal ≤ {goals['ms_256']:.0f} ms on 2 CPU cores). "
        "`python -m benchmarks segmentation` measures it against Keras in one process."
    )
