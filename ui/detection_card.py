"""The detection demo's model card: held-out figures of both detectors, false alarms, training record, speed."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.detection import ClassFigures, DetectionCard


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _rows(model: str, held_out: dict[str, ClassFigures]) -> list[dict[str, Any]]:
    return [
        {
            "model": model,
            "class": name,
            "images": r.images,
            "objects": r.ground_truth,
            "AP@0.5": f"{r.ap50:.3f}",
            "recall": f"{_pct(r.recall)} ({r.found}/{r.ground_truth})",
            "precision": _pct(r.precision),
        }
        for name, r in held_out.items()
    ]


def _figures(card: DetectionCard) -> None:
    rows = _rows("our YOLO", card.held_out)
    if card.yolox.available and card.yolox.held_out:
        rows += _rows("YOLOX-Nano", card.yolox.held_out)
        raccoon = card.held_out.get("raccoon")
        rows.append(
            {
                "model": "YOLOX-Nano",
                "class": "raccoon",
                "images": raccoon.images if raccoon else None,
                "objects": raccoon.ground_truth if raccoon else None,
                "AP@0.5": "n/a",
                "recall": "no COCO raccoon class",
                "precision": "n/a",
            }
        )
    st.markdown(
        f"**Held-out figures** ({card.held_out_images} images never trained on: {card.split}). AP@0.5: area under "
        "the precision-recall curve, a detection counting when it overlaps an unclaimed true box by IoU ≥ 0.5. "
        f"Recall and precision at the page's defaults: score ≥ {card.score}, NMS IoU {card.nms_iou}. Penn-Fudan "
        "leaves some people unannotated (far away or hidden), so precision on it reads low."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown(f"Mean AP@0.5 of our YOLO over its two classes: **{card.map50:.3f}**.")


def _false_alarms(card: DetectionCard) -> None:
    alarms = card.false_alarms
    if alarms is not None:
        st.markdown(
            f"**False alarms.** On {alarms.photos} BSDS500 test photos with neither class (no person by "
            f"YOLOX-Nano's judgement), {alarms.photos_with_false_alarm} ({alarms.share:.0%}) got a box at "
            f"score ≥ {card.score} ({alarms.false_alarms} boxes in all). Our YOLO has seen 296 photos of two "
            "kinds: furry animals and close-ups of textured things can come out as *raccoon* (the cat sample does). "
            "For everyday scenes, YOLOX-Nano is the detector to use."
        )
    every = card.yolox.penn_fudan_all
    if card.yolox.available and every is not None:
        st.markdown(
            f"YOLOX-Nano on all 170 Penn-Fudan images: {every.found} of {every.ground_truth} pedestrians found "
            f"at score 0.3 / NMS 0.45 (the dataset notes record 414 of 423 for this check)."
        )
    elif not card.yolox.available:
        st.markdown(f"YOLOX-Nano was not evaluated when this model was built: {card.yolox.reason or ''}")


def detection_card(card: DetectionCard, *, yolox_ready: bool) -> None:
    """The card, read only from the typed DetectionCard (services/detection.py)."""
    st.markdown(f"**Our YOLO.** {card.architecture}.")
    _figures(card)
    _false_alarms(card)
    st.markdown(
        f"**Training.** {card.steps:,} steps of {card.batch} augmented {card.input_size}² images (mosaic of four "
        f"images for half of them, random scale and placement, flips, colour jitter; the last "
        f"{card.no_mosaic_tail:.0%} without mosaic) from {card.train_images} photos with {card.train_boxes} boxes "
        f"and {card.background_photos} person-free background photos; AdamW, warm-up then cosine decay, weights "
        f"averaged (EMA); {card.seconds / 60:.1f} min on {card.device} (budget {card.goal_training_minutes:.0f} min)."
    )
    st.markdown(
        f"**Speed at build time:** {card.ms_per_image:.1f} ms per photo end to end (goal ≤ {card.goal_own_ms:.0f} ms "
        f"on 2 CPU cores; YOLOX-Nano's goal ≤ {card.goal_yolox_ms:.0f} ms). "
        "`python -m benchmarks detection` measures both detectors against PyTorch in one process."
    )
    if not yolox_ready:
        st.markdown(
            "**YOLOX-Nano** is not on this machine; the *Get the COCO detector* panel on the first tab downloads it."
        )
