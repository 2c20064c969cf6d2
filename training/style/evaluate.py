"""Export and evaluation of the style networks: ONNX with dynamic height and width, parity, held-out figures.

Held-out figures (BSDS500 test photos, never trained on):
- style distance: mean relative Gram error against the painting under a loss network, for the network's output
  and, as the baseline, for the photo itself; reported under the loss network that trained it and under an
  independent random network (other layout, other seed) that played no part in training;
- content kept: correlation between the photo's and the output's luminance gradient magnitudes (blurred to a
  quarter of the size), 1 meaning the same edges in the same places.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from PIL import Image, ImageDraw
from torch.nn import functional as F

from services.timing import median_call_ms
from training.common.images import load_rgb
from training.common.onnx_graph import cpu_session
from training.style.net import (
    ExportedStyleNet,
    LossNet,
    RandomLossConfig,
    RandomLossNet,
    StyleNet,
    gram,
    relative_error,
)
from training.style.train import to_tensor

OPSET = 17
INPUT, WEIGHTS, OUTPUT = "image", "style_weights", "stylized"
# The independent judge: a random-weight network (layout and seed of its own) that played no part in training.
JUDGE = RandomLossConfig(layout="multiscale", widths=(64, 64, 64, 64), kernels=(3, 5), seed=2024)
GOALS = {"ms_512": 300.0, "speedup_vs_torch": 1.3, "ratio_1024_vs_512": 4.0}


def export(net: StyleNet, metadata: dict[str, str]) -> onnx.ModelProto:
    """The network as ONNX: input image [N, 3, H, W] float RGB in [0, 1] and style_weights [N, styles] (one-hot for
    one painting, any convex mix for a blend); output stylized (same shape as the image), clamped to [0, 1]."""
    wrapper = ExportedStyleNet(net).eval()
    buffer = io.BytesIO()
    styles = net.config.styles
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            (torch.rand(1, 3, 64, 96), torch.full((1, styles), 1.0 / styles)),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT, WEIGHTS],
            output_names=[OUTPUT],
            dynamic_axes={
                INPUT: {0: "batch", 2: "height", 3: "width"},
                WEIGHTS: {0: "batch"},
                OUTPUT: {0: "batch", 2: "height", 3: "width"},
            },
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    model.producer_name = "ml-demo-portal"
    model.producer_version = ""
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    return model


def one_hot(style: int, styles: int) -> np.ndarray:
    weights = np.zeros((1, styles), np.float32)
    weights[0, style] = 1.0
    return weights


def onnx_run(sess: ort.InferenceSession, images: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 and (N, styles) weights -> (N, H, W, 3) float in [0, 1]; H and W multiples of 4."""
    batch = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
    return sess.run([OUTPUT], {INPUT: batch, WEIGHTS: np.asarray(weights, np.float32)})[0].transpose(0, 2, 3, 1)


def parity(net: StyleNet, model: onnx.ModelProto, shapes=((1, 3, 100, 132), (1, 3, 64, 64))) -> float:
    """Max abs difference ONNX vs torch over random inputs of several sizes (dynamic H and W) and random style mixes."""
    sess = cpu_session(model)
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for shape in shapes:
        x = torch.rand(shape, generator=generator)
        weights = torch.rand((shape[0], net.config.styles), generator=generator)
        weights = weights / weights.sum(1, keepdim=True)
        with torch.no_grad():
            expected = ExportedStyleNet(net)(x, weights).numpy()
        got = sess.run([OUTPUT], {INPUT: x.numpy(), WEIGHTS: weights.numpy()})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def held_out_photos(paths: list[Path], count: int, side: int = 256, multiple: int = 4) -> list[np.ndarray]:
    """The first `count` held-out photos, short side `side`, cropped to multiples of `multiple` (the network's
    total stride)."""
    out = []
    for path in paths[:count]:
        photo = load_rgb(path, short_side=side)
        h, w = photo.shape[0] // multiple * multiple, photo.shape[1] // multiple * multiple
        out.append(photo[:h, :w])
    return out


def _gradient_magnitude(images: torch.Tensor) -> torch.Tensor:
    luma = (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    dx = luma[..., :, 1:] - luma[..., :, :-1]
    dy = luma[..., 1:, :] - luma[..., :-1, :]
    magnitude = (dx[..., :-1, :] ** 2 + dy[..., :, :-1] ** 2).sqrt()
    return F.avg_pool2d(magnitude, 4)


def content_kept(outputs: torch.Tensor, photos: torch.Tensor) -> torch.Tensor:
    """Per-image Pearson correlation of blurred gradient magnitudes (output vs photo)."""
    a = _gradient_magnitude(outputs).flatten(1)
    b = _gradient_magnitude(photos).flatten(1)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


def style_grams(net: LossNet, image: torch.Tensor) -> list[torch.Tensor]:
    """The Gram matrices of one image at the network's style layers."""
    return [gram(f) for i, f in enumerate(net.features(image)) if i in net.style_layers]


def _layer_errors(grams: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """(layers,) relative Gram errors of one image's Gram matrices against one painting's."""
    return torch.stack([relative_error(g, t)[0] for g, t in zip(grams, targets, strict=True)])


def evaluate(
    model: onnx.ModelProto,
    photos: list[np.ndarray],
    paintings: dict[str, np.ndarray],
    loss_net: LossNet,
) -> dict[str, Any]:
    """Held-out figures for every style of the network (`paintings` in the order of its style weights; photos of
    different sizes are run one by one).

    For each style and loss network: `photo` and `output` are the mean relative Gram errors against the painting
    (over photos and style layers); `gap_left` is the mean over layers of (output error / photo error): the share of
    the photo's distance to the painting's statistics that the output still has, each layer weighing alike (0 = the
    painting's statistics). `content_kept`: see content_kept().
    """
    judge = RandomLossNet(JUDGE).eval()
    sess = cpu_session(model)
    nets = {"training_loss_net": loss_net, "independent_judge": judge}
    names = list(paintings)
    figures: dict[str, Any] = {}
    with torch.no_grad():
        targets = {
            net_name: {style: style_grams(net, to_tensor(p)) for style, p in paintings.items()}
            for net_name, net in nets.items()
        }
        errors = {s: {n: {"output": [], "photo": []} for n in nets} for s in names}
        kept: dict[str, list[float]] = {s: [] for s in names}
        for photo in photos:
            src = to_tensor(photo)
            photo_grams = {net_name: style_grams(net, src) for net_name, net in nets.items()}  # once per photo
            for index, style in enumerate(names):
                out = torch.from_numpy(
                    onnx_run(sess, photo[None], one_hot(index, len(names))).transpose(0, 3, 1, 2).copy()
                )
                for net_name, net in nets.items():
                    target = targets[net_name][style]
                    errors[style][net_name]["output"].append(_layer_errors(style_grams(net, out), target))
                    errors[style][net_name]["photo"].append(_layer_errors(photo_grams[net_name], target))
                kept[style].append(float(content_kept(out, src)[0]))
    for style in names:
        row: dict[str, Any] = {"style_distance": {}}
        for net_name in nets:
            out_l = torch.stack(errors[style][net_name]["output"]).mean(0)  # per layer, over photos
            photo_l = torch.stack(errors[style][net_name]["photo"]).mean(0)
            row["style_distance"][net_name] = {
                "photo": round(float(photo_l.mean()), 4),
                "output": round(float(out_l.mean()), 4),
                "gap_left": round(float((out_l / photo_l).mean()), 4),
                "per_layer_gap_left": [round(float(v), 4) for v in out_l / photo_l],
            }
        row["content_kept"] = round(float(np.mean(kept[style])), 4)
        figures[style] = row
    return {"styles": figures, "held_out_photos": len(photos)}


def speed(net: StyleNet, model: onnx.ModelProto, repeats: int = 5) -> dict[str, float]:
    """Median ms for one 512x512 image, onnxruntime vs PyTorch eager, and onnxruntime's for 1024x1024 with its ratio
    to 512x512, all in interleaved rounds (same process, same weights, one-hot style)."""
    sess = cpu_session(model)
    wrapper = ExportedStyleNet(net).eval()
    weights = torch.from_numpy(one_hot(0, net.config.styles))
    generator = torch.Generator().manual_seed(1)
    x512, x1024 = torch.rand(1, 3, 512, 512, generator=generator), torch.rand(1, 3, 1024, 1024, generator=generator)

    def feed(x: torch.Tensor) -> dict[str, np.ndarray]:
        return {INPUT: x.numpy(), WEIGHTS: weights.numpy()}

    onnx_runs, torch_runs, big_runs = [], [], []
    with torch.inference_mode():
        for _ in range(repeats):  # the three in turn: the machine's drift touches all alike
            onnx_runs.append(median_call_ms(lambda: sess.run([OUTPUT], feed(x512)), repeats=1))
            torch_runs.append(median_call_ms(lambda: wrapper(x512, weights), repeats=1))
            big_runs.append(median_call_ms(lambda: sess.run([OUTPUT], feed(x1024)), repeats=1))
    onnx_ms, torch_ms, big_ms = (float(np.median(runs)) for runs in (onnx_runs, torch_runs, big_runs))
    return {
        "onnx_ms": round(onnx_ms, 1),
        "torch_ms": round(torch_ms, 1),
        "speedup": round(torch_ms / onnx_ms, 2),
        "onnx_ms_1024": round(big_ms, 1),
        "ratio_1024_vs_512": round(big_ms / onnx_ms, 2),
    }


def contact_sheet(
    photos: list[np.ndarray], outputs: list[np.ndarray], painting: np.ndarray, title: str, path: Path
) -> Path:
    """Rows of (photo, output) beside the painting: for looking at, never committed (the painting is not ours)."""
    height = 220

    def fit(image: np.ndarray, h: int) -> Image.Image:
        pil = Image.fromarray(image)
        return pil.resize((max(1, round(pil.width * h / pil.height)), h), Image.Resampling.LANCZOS)

    rows = [(fit(p, height), fit(o, height)) for p, o in zip(photos, outputs, strict=True)]
    row_width = max(a.width + b.width for a, b in rows) + 10
    style = fit(painting, height * 2)
    sheet = Image.new("RGB", (row_width + style.width + 20, 30 + height * len(rows) + 5 * len(rows)), "white")
    ImageDraw.Draw(sheet).text((8, 8), title, fill="black")
    y = 30
    for a, b in rows:
        sheet.paste(a, (0, y))
        sheet.paste(b, (a.width + 10, y))
        y += height + 5
    sheet.paste(style, (row_width + 10, 30))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
