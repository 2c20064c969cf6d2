"""The style-transfer model card: per-style held-out figures, training record, loss network and speed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st


def style_card(entries: Mapping[str, Mapping[str, Any]]) -> None:
    """entries: style name -> manifest entry (only the styles whose entry could be read)."""
    try:
        _card(entries)
    except (KeyError, TypeError, ValueError, StopIteration):
        st.info(
            "The manifest has no figures for these models; rebuild them with `python -m training style`.",
            icon=":material/info:",
        )


def _card(entries: Mapping[str, Mapping[str, Any]]) -> None:
    first = next(iter(entries.values()))
    card, training = first["card"], first["training"]
    goals = card["goals"]
    st.markdown(
        f"**Network.** {card['architecture']}. Exported to ONNX with dynamic height and width; any photo runs at its "
        "own size (padded to a multiple of 4)."
    )
    st.markdown(
        f"**Loss network.** {card['loss_network']}. No ImageNet VGG16 here: these machines cannot download its "
        "weights, so the styles were trained with a network of fixed random weights, which still carries style "
        "statistics (Ustyuzhaninov et al. 2016; He et al. 2016). The training code also has the classic VGG16 path "
        "(`--loss-net vgg16`)."
    )
    experiment = card.get("experiment") or {}
    if experiment:
        st.markdown("**How the loss network was chosen** (Starry Night, same steps and crops each):")
        st.markdown("\n".join(f"- **{name}:** {text}" for name, text in experiment.items()))
    rows = []
    for entry in entries.values():
        m, t = entry["metrics"], entry["training"]
        own, judge = m["style_distance"]["training_loss_net"], m["style_distance"]["independent_judge"]
        rows.append(
            {
                "style": entry["card"]["painting"]["title"],
                "style gap left, own loss net": f"{own['gap_left']:.1%}",
                "style gap left, independent judge": f"{judge['gap_left']:.1%}",
                "content kept": f"{m['content_kept']:.3f}",
                "training": f"{t['seconds'] / 60:.1f} min, {t['steps']:,} steps",
                "512×512 ONNX / PyTorch (ms)": f"{m['speed_512']['onnx_ms']:.0f} / {m['speed_512']['torch_ms']:.0f}",
            }
        )
    st.markdown(
        f"**Held-out figures** ({first['metrics']['held_out_photos']} BSDS500 test photos, never trained on). "
        "Style gap left: of the photo's distance to the painting's feature statistics (Gram matrices, layer by "
        "layer), the share the network's output still has (0% = the painting's statistics); under the loss network "
        "that trained it, and under an independent random network of another layout and seed that took no part in "
        "training. Content kept: correlation of the photo's and the output's edge strength (1 = same edges)."
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown(
        f"**Training.** Each style: {training['config']['steps']:,} steps of {training['config']['batch']} random "
        f"{training['config']['crop']}×{training['config']['crop']} crops of 300 BSDS500 photos (train + val), "
        f"Adam with cosine decay, on {training['device']}; budget 45 minutes per style. Goals: 512×512 in at most "
        f"{goals['ms_512']:.0f} ms and at least {goals['speedup_vs_torch']}× PyTorch eager (`python -m benchmarks "
        "style` measures both)."
    )
    speed = first["metrics"]["speed_512"]
    ratio = speed["torch_ms"] / speed["onnx_ms"]
    verdict = "met" if ratio >= goals["speedup_vs_torch"] else "short of that goal"
    st.markdown(
        f"**Speed at build time** ({first['card']['painting']['title']}, 512×512, {training['device']}): onnxruntime "
        f"{speed['onnx_ms']:.0f} ms, PyTorch eager {speed['torch_ms']:.0f} ms: {ratio:.2f}×, {verdict}. Most of "
        "onnxruntime's time outside the convolutions goes to reflection padding, layout conversions around instance "
        "normalisation, and the 3-channel 9×9 output convolution, which its blocked kernels handle poorly."
    )
