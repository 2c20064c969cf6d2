"""The person-segmentation model card: what taught the U-Net, held-out figures before and after against the goals,
the teachers on the same photos, the sample photos, training record and speed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.segmentation import SegmentationCard

SET_NAMES = {
    "penn_fudan": "Penn-Fudan pedestrians (people's masks)",
    "coco_people": "COCO photos with people (people's masks)",
    "close_ups": "close-ups of people (teachers' masks)",
    "teacher_all": "all held-out imagenette + BSDS500 photos (teachers' masks)",
}


def segmentation_card(card: SegmentationCard) -> None:
    """The U-Net's figures, from its typed card."""
    goals, held = card.goals, card.held_out
    st.markdown(f"**What it is.** {card.summary}.")
    st.markdown(f"**Network.** {card.architecture}.")
    teachers = "; ".join(f"{t.name} ({t.licence}, sha256 {t.sha256[:12]}…): {t.role}" for t in card.teacher_models)
    st.markdown(
        f"**What taught it.** {teachers}. {card.teacher_rule[0].upper()}{card.teacher_rule[1:]}. The teachers ran "
        "at training time only: they are not part of the portal, and neither are their masks."
    )
    goal_of = {name: goal for name, _, goal, _ in card.goal_rows()}
    rows = []
    for name, label in SET_NAMES.items():
        scores = getattr(held, name)
        before = card.previous.get(name)
        rows.append(
            {
                "held-out set": label,
                "photos": scores.images,
                "IoU": scores.iou,
                "goal": goal_of.get(name),
                "previous U-Net": before.iou if before else None,
                "Dice": scores.dice,
                "mean IoU per photo": scores.mean_image_iou,
            }
        )
    st.markdown(
        f"**Held-out figures** ({card.split}). Person pixels at probability ≥ {card.threshold}, full resolution; "
        "the previous U-Net (trained on 136 Penn-Fudan photos) on the same photos for comparison."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    verdict = "all met" if card.goals_met else "not all met"
    st.markdown(f"IoU goals on our held-out sets: **{verdict}**.")
    teacher_rows = [
        {
            "model": name,
            **{SET_NAMES[s]: getattr(getattr(card.teachers, name), s).iou for s in ("penn_fudan", "coco_people")},
        }
        for name in ("deeplabv3", "selfie")
    ]
    teacher_rows.append(
        {"model": "this U-Net", **{SET_NAMES[s]: getattr(held, s).iou for s in ("penn_fudan", "coco_people")}}
    )
    st.markdown("**The teachers alone** on the photos people labelled (IoU):")
    st.dataframe(pd.DataFrame(teacher_rows), hide_index=True)
    st.markdown(
        "**Sample photos** (share of person pixels, and agreement with DeepLab's mask): "
        + "; ".join(
            f"{name} {r.person_share:.1%} (IoU with DeepLab {r.iou_with_deeplab:.2f})"
            for name, r in card.samples.items()
        )
        + "."
    )
    runs = " + ".join(f"{s / 60:.0f}" for s in card.runs_seconds) or f"{card.training_seconds / 60:.0f}"
    st.markdown(
        f"**Training.** {card.steps:,} steps of {card.batch} random {card.crop}² crops around the serving scale "
        f"(flips, colour jitter) from {card.train_images:,} photos ({card.train_images_human} with people's masks); "
        f"AdamW with cosine decay; loss = binary cross-entropy + soft Dice over the judged pixels; "
        f"{card.training_seconds / 60:.0f} min on {card.device} in resumed runs of {runs} min (each at most "
        f"{goals.training_minutes_per_run:.0f}). Keras {card.tensorflow} → ONNX with tf2onnx {card.tf2onnx}; largest "
        f"difference Keras vs onnxruntime {card.parity_max_abs:.1e}."
    )
    st.markdown(
        f"**Speed at build time:** {card.ms_per_image:.1f} ms per photo end to end at {card.input_size}² (goal ≤ "
        f"{goals.ms_serving:.0f} ms on 2 CPU cores). `python -m benchmarks segmentation` measures it against Keras in "
        "one process."
    )
