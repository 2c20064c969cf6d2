"""The style-transfer model card: per-style held-out figures, training record, loss network and speed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from services.style import StyleCard


def style_card(cards: Mapping[str, StyleCard]) -> None:
    """cards: style name -> its typed card, in the page's order (only the styles whose card could be read)."""
    if not cards:
        return
    first = next(iter(cards.values()))
    _network(first)
    st.markdown(
        f"**Held-out figures** ({first.held_out_photos} BSDS500 test photos, never trained on). "
        "Style gap left: of the photo's distance to the painting's feature statistics (Gram matrices, layer by "
        "layer), the share the network's output still has (0% = the painting's statistics); under the loss network "
        "that trained it, and under an independent random network of another layout and seed that took no part in "
        "training. Content kept: correlation of the photo's and the output's edge strength (1 = same edges)."
    )
    st.dataframe(pd.DataFrame([_row(card) for card in cards.values()]), hide_index=True)
    _training(first)
    _speed(first)


def _network(card: StyleCard) -> None:
    st.markdown(
        f"**Network.** {card.architecture}. Exported to ONNX with dynamic height and width; any photo runs at its "
        "own size (padded to a multiple of 4)."
    )
    st.markdown(
        f"**Loss network.** {card.loss_network}. No ImageNet VGG16 here: these machines cannot download its "
        "weights, so the styles were trained with a network of fixed random weights, which still carries style "
        "statistics (Ustyuzhaninov et al. 2016; He et al. 2016). The training code also has the classic VGG16 path "
        "(`--loss-net vgg16`)."
    )
    if card.experiment:
        st.markdown("**How the loss network was chosen** (Starry Night, same steps and crops each):")
        st.markdown("\n".join(f"- **{name}:** {text}" for name, text in card.experiment.items()))


def _row(card: StyleCard) -> dict[str, str]:
    return {
        "style": card.painting.title,
        "style gap left, own loss net": f"{card.own_gap_left:.1%}",
        "style gap left, independent judge": f"{card.judge_gap_left:.1%}",
        "content kept": f"{card.content_kept:.3f}",
        "training": f"{card.training_seconds / 60:.1f} min, {card.training_steps:,} steps",
        "512×512 ONNX / PyTorch (ms)": f"{card.onnx_ms_512:.0f} / {card.torch_ms_512:.0f}",
    }


def _training(card: StyleCard) -> None:
    st.markdown(
        f"**Training.** Each style: {card.config_steps:,} steps of {card.batch} random "
        f"{card.crop}×{card.crop} crops of 300 BSDS500 photos (train + val), "
        f"Adam with cosine decay, on {card.device}; budget 45 minutes per style. Goals: 512×512 in at most "
        f"{card.goals.ms_512:.0f} ms and at least {card.goals.speedup_vs_torch}× PyTorch eager (`python -m benchmarks "
        "style` measures both)."
    )


def _speed(card: StyleCard) -> None:
    verdict = "met" if card.speed_goal_met else "short of that goal"
    st.markdown(
        f"**Speed at build time** ({card.painting.title}, 512×512, {card.device}): onnxruntime "
        f"{card.onnx_ms_512:.0f} ms, PyTorch eager {card.torch_ms_512:.0f} ms: {card.speedup:.2f}×, {verdict}. Most "
        "of onnxruntime's time outside the convolutions goes to reflection padding, layout conversions around "
        "instance normalisation, and the 3-channel 9×9 output convolution, which its blocked kernels handle poorly."
    )
