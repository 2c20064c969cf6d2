"""The person-segmentation model card: held-out figures, training record, speed against its goals."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.segmentation import Scores, SegmentationCard


def _row(images: str, scores: Scores) -> dict[str, str | float]:
    return {
        "images": images,
        "iou": scores.iou,
        "dice": scores.dice,
        "mean_image_iou": scores.mean_image_iou,
        "pixel_accuracy": scores.pixel_accuracy,
    }


def segmentation_card(card: SegmentationCard) -> None:
    """The U-Net's figures, from its typed card."""
    goals, held = card.goals, card.held_out
    st.markdown(f"**Network.** {card.architecture}.")
    st.markdown(
        f"**Held-out figures** ({held.images} Penn-Fudan images never trained on: {card.split}). Person pixels "
        f"at probability ≥ {card.threshold}, compared with the dataset's masks at full resolution."
    )
    rows = [_row("held out", held), _row(f"training ({card.train_subset.images})", card.train_subset)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    verdict = "met" if card.iou_goal_met else "short of the goal"
    st.markdown(f"Held-out IoU {held.iou:.3f} against a goal of {goals.iou}: **{verdict}**.")
    st.markdown(
        f"**Training.** {card.steps:,} steps of {card.batch} random {card.crop}² crops at the serving scale (flips, "
        f"colour jitter) from {card.train_images} photos; Adam with cosine decay; loss = binary cross-entropy + soft "
        f"Dice; {card.training_seconds / 60:.1f} min on {card.device} (budget {goals.training_minutes:.0f} min). "
        f"Keras {card.tensorflow} → ONNX with tf2onnx {card.tf2onnx}; largest difference Keras vs onnxruntime "
        f"{card.parity_max_abs:.1e}."
    )
    st.markdown(
        f"**Speed at build time:** {card.ms_per_image:.1f} ms per photo end to end at {card.input_size}² (goal ≤ "
        f"{goals.ms_256:.0f} ms on 2 CPU cores). `python -m benchmarks segmentation` measures it against Keras in one "
        "process."
    )
