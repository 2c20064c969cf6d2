"""The detection demo's model card: where the labels came from, held-out figures of both detectors, false alarms,
the sample photos, training record and speed."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.detection import DetectionCard, SetFigures

SET_TITLES = {
    "coco128": "COCO photos (people's boxes)",
    "penn_fudan": "Penn-Fudan pedestrians",
    "raccoon": "raccoon photos",
    "teacher_agreement": "imagenette + BSDS500 (teacher's boxes)",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _summary_rows(card: DetectionCard) -> list[dict[str, Any]]:
    theirs = (card.yolox.held_out or {}) if card.yolox.available else {}
    rows = []
    for name, ours in card.held_out.items():
        other = theirs.get(name)
        person = ours.classes.get("person")
        other_person = other.classes.get("person") if other else None
        rows.append(
            {
                "held-out set": SET_TITLES.get(name, name),
                "photos": ours.photos,
                "classes scored": len(ours.classes),
                "our mAP@0.5": f"{ours.map50:.3f}",
                "YOLOX-Nano mAP@0.5": f"{other.map50:.3f}" if other else "n/a",
                "our person AP@0.5": f"{person.ap50:.3f}" if person else "—",
                "YOLOX-Nano person AP@0.5": f"{other_person.ap50:.3f}" if other_person else "—",
            }
        )
    return rows


def _class_rows(model: str, set_name: str, figures: SetFigures) -> list[dict[str, Any]]:
    return [
        {
            "set": SET_TITLES.get(set_name, set_name),
            "model": model,
            "class": name,
            "objects": r.ground_truth,
            "AP@0.5": round(r.ap50, 3),
            "recall": f"{_pct(r.recall)} ({r.found}/{r.ground_truth})",
            "precision": _pct(r.precision),
        }
        for name, r in figures.classes.items()
    ]


def _labels(card: DetectionCard) -> None:
    t = card.teacher
    st.markdown(
        f"**Where the labels came from.** People drew the boxes of the coco128 photos (80 COCO classes), of the "
        f"Penn-Fudan pedestrians and of the raccoons: {t.training_boxes_from_people:,} training boxes. Everything "
        f"else (the imagenette and BSDS500 photos, and the things Penn-Fudan and the raccoon photos leave "
        f"unlabelled) was labelled by a teacher: **{t.name}**, a COCO detector ({t.licence}; file `{t.file}`, "
        f"sha256 `{t.sha256[:16]}…`), run once over {t.photos_labelled:,} photos at training time. Its boxes scoring "
        f"≥ {t.label_score} became {t.training_boxes_from_teacher:,} training labels; those between "
        f"{t.ignore_score} and {t.label_score} marked places where the student is neither rewarded nor punished. "
        "Where a person drew a box, the person's box wins. The teacher is not part of the portal and neither are its "
        "labels; our YOLO is a different, separately trained network."
    )
    st.markdown(f"**{len(card.classes)} classes** ({card.class_rule}): " + ", ".join(card.classes) + ".")


def _figures(card: DetectionCard) -> None:
    photos = sum(card.held_out_photos.values())
    st.markdown(
        f"**Held-out figures** ({photos:,} photos never trained on: {card.split}). AP@0.5: area under the "
        "precision-recall curve, a detection counting when it overlaps an unclaimed true box by IoU ≥ 0.5; mAP is "
        f"its mean over the classes with objects in the set. Recall and precision at the page's defaults: score ≥ "
        f"{card.score}, NMS IoU {card.nms_iou}. The imagenette + BSDS500 row measures agreement with the teacher, "
        "so YOLOX-Nano is not scored there; COCO has no raccoon, so it is not scored on those either."
    )
    st.dataframe(pd.DataFrame(_summary_rows(card)), hide_index=True)
    rows = [row for name, figures in card.held_out.items() for row in _class_rows("our YOLO", name, figures)]
    if card.yolox.available and card.yolox.held_out:
        rows += [row for name, f in card.yolox.held_out.items() for row in _class_rows("YOLOX-Nano", name, f)]
    st.caption("Every class of every set, for both detectors:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, height=260)
    if not card.yolox.available:
        st.markdown(f"YOLOX-Nano was not evaluated when this model was built: {card.yolox.reason or ''}")


def _behaviour(card: DetectionCard) -> None:
    alarms = card.false_alarms
    st.markdown(
        f"**False alarms.** On {alarms.photos} BSDS500 test photos with no person in them, "
        f"{alarms.photos_with_false_alarm} ({alarms.share:.0%}) got a *{alarms.name}* box at score ≥ {card.score} "
        f"(goal ≤ {card.goals.get('bsds_false_person_share', 0.1):.0%})."
    )
    found = [
        f"*{name}*: " + (", ".join(f"{n} {c}" for n, c in counts.items()) or "nothing")
        for name, counts in card.samples.items()
    ]
    st.markdown("**The sample photos at the page's defaults** (at build time): " + "; ".join(found) + ".")


def detection_card(card: DetectionCard, *, yolox_ready: bool) -> None:
    """The card, read only from the typed DetectionCard (services/detection.py)."""
    st.markdown(f"**Our YOLO.** {card.summary}. {card.architecture}.")
    _labels(card)
    _figures(card)
    _behaviour(card)
    st.markdown(
        f"**Training.** {card.steps:,} steps of {card.batch} augmented {card.input_size}² images (mosaic of four "
        f"photos for most of them, random scale and placement, flips, colour jitter; the last "
        f"{card.no_mosaic_tail:.0%} without mosaic) from {card.train_photos:,} photos with {card.train_boxes:,} "
        f"boxes; AdamW, warm-up then cosine decay, weights averaged (EMA); {card.seconds / 60:.0f} min on "
        f"{card.device}, in runs of at most {card.goals.get('training_minutes_per_cpu_run', 60):.0f} minutes."
    )
    st.markdown(
        f"**Speed at build time:** {card.ms_per_image:.1f} ms per photo end to end (goal ≤ "
        f"{card.goals.get('own_ms', 15):.0f} ms on 2 CPU cores), {card.parameters:,} parameters. "
        "`python -m benchmarks detection` measures both detectors against PyTorch in one process."
    )
    if not yolox_ready:
        st.markdown(
            "**YOLOX-Nano** is not on this machine; the *Get the COCO detector* panel on the first tab downloads it."
        )
