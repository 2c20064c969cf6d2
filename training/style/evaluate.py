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
    style_distance,
)
from training.style.train import to_tensor

OPSET = 17
INPUT, OUTPUT = "image", "stylized"
# The independent judge: a layout and seed that trained none of the committed styles.
JUDGE = RandomLossConfig(layout="multiscale", widths=(64, 64, 64, 64), kernels=(3, 5), seed=2024)
GOALS = {"ms_512": 1000.0, "speedup_vs_torch": 1.3}


def export(net: StyleNet, metadata: dict[str, str]) -> onnx.ModelProto:
    """The network as ONNX: input image [1, 3, H, W] float RGB in [0, 1], output stylized (same shape), clamped."""
    wrapper = ExportedStyleNet(net).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            (torch.rand(1, 3, 64, 96),),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {2: "height", 3: "width"}, OUTPUT: {2: "height", 3: "width"}},
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


def onnx_run(sess: ort.InferenceSession, images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W, 3) float in [0, 1]; H and W multiples of 4."""
    batch = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
    return sess.run([OUTPUT], {INPUT: batch})[0].transpose(0, 2, 3, 1)


def parity(net: StyleNet, model: onnx.ModelProto, shapes=((1, 3, 100, 132), (1, 3, 64, 64))) -> float:
    """Max abs difference ONNX vs torch over random inputs of several sizes (dynamic H and W)."""
    sess = cpu_session(model)
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for shape in shapes:
        x = torch.rand(shape, generator=generator)
        with torch.no_grad():
            expected = ExportedStyleNet(net)(x).numpy()
        got = sess.run([OUTPUT], {INPUT: x.numpy()})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def held_out_photos(paths: list[Path], count: int, side: int = 256) -> list[np.ndarray]:
    """The first `count` held-out photos, short side `side`, cropped to multiples of 4."""
    out = []
    for path in paths[:count]:
        photo = load_rgb(path, short_side=side)
        h, w = photo.shape[0] // 4 * 4, photo.shape[1] // 4 * 4
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


def evaluate(
    model: onnx.ModelProto, photos: list[np.ndarray], painting: np.ndarray, loss_net: LossNet
) -> dict[str, Any]:
    """Held-out figures for one style network (photos of different sizes are run one by one).

    For each loss network: `photo` and `output` are the mean relative Gram errors (over photos and style layers);
    `gap_left` is the mean over layers of (output error / photo error): the share of the photo's distance to the
    painting's statistics that the output still has, each layer weighing alike (0 = the painting's statistics).
    """
    judge = RandomLossNet(JUDGE).eval()
    sess = cpu_session(model)
    nets = {"training_loss_net": loss_net, "independent_judge": judge}
    errors: dict[str, dict[str, list[torch.Tensor]]] = {name: {"output": [], "photo": []} for name in nets}
    kept = []
    with torch.no_grad():
        targets = {
            name: [gram(f) for i, f in enumerate(net.features(to_tensor(painting))) if i in net.style_layers]
            for name, net in nets.items()
        }
        for photo in photos:
            out = torch.from_numpy(onnx_run(sess, photo[None]).transpose(0, 3, 1, 2).copy())
            src = to_tensor(photo)
            for name, net in nets.items():
                errors[name]["output"].append(style_distance(net, out, targets[name])[:, 0])
                errors[name]["photo"].append(style_distance(net, src, targets[name])[:, 0])
            kept.append(float(content_kept(out, src)[0]))
    metrics: dict[str, Any] = {"style_distance": {}}
    for name in nets:
        out_l = torch.stack(errors[name]["output"]).mean(0)  # per layer, over photos
        photo_l = torch.stack(errors[name]["photo"]).mean(0)
        metrics["style_distance"][name] = {
            "photo": round(float(photo_l.mean()), 4),
            "output": round(float(out_l.mean()), 4),
            "gap_left": round(float((out_l / photo_l).mean()), 4),
            "per_layer_gap_left": [round(float(v), 4) for v in out_l / photo_l],
        }
    metrics["content_kept"] = round(float(np.mean(kept)), 4)
    metrics["held_out_photos"] = len(photos)
    return metrics


def speed(net: StyleNet, model: onnx.ModelProto, side: int = 512, repeats: int = 5) -> dict[str, float]:
    """Median ms for one side x side image: onnxruntime vs PyTorch eager, same process, same weights."""
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    sess = cpu_session(model)
    wrapper = ExportedStyleNet(net).eval()
    feed = {INPUT: x.numpy()}
    onnx_ms = median_call_ms(lambda: sess.run([OUTPUT], feed), repeats=repeats)
    with torch.inference_mode():
        torch_ms = median_call_ms(lambda: wrapper(x), repeats=repeats)
    return {"onnx_ms": round(onnx_ms, 1), "torch_ms": round(torch_ms, 1), "speedup": round(torch_ms / onnx_ms, 2)}


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
