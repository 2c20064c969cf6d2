"""`python -m training style`: train, export and evaluate one fast style network per painting.

Content photos: BSDS500 train + val (300 photos); the 200 test photos are held out for the figures and the contact
sheets. Loss network: fixed random weights (see training/style/net.py), chosen by the experiment recorded in
LOSS_NET_EXPERIMENT; `--loss-net vgg16` trains with the classic ImageNet VGG16 instead (needs its weights: the
download goes through torch's hub cache and is checksum-verified).

Each style trains under its own time budget (45 minutes of 2-core CPU by default) with checkpoints in
build/style/<name>/, resumed when the build is run again. Contact sheets (photo, output, painting) go to
build/style/contact/ for looking at; they are never committed.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
from pathlib import Path

import numpy as np
import torch

from services.style import STYLES, StyleCard
from training.common.bsds import BSDS500, BSDS_HELD_OUT_SPLIT, BSDS_TRAIN_SPLITS, locate_photos, photo_paths
from training.common.images import load_rgb
from training.common.manifest import ROOT, write_model
from training.common.onnx_graph import cpu_session
from training.common.resumable import training_record
from training.style.data import PAINTINGS, PAINTINGS_DATASET, locate_paintings
from training.style.evaluate import GOALS, JUDGE, contact_sheet, evaluate, export, held_out_photos, onnx_run, parity
from training.style.evaluate import speed as measure_speed
from training.style.net import RandomLossConfig, RandomLossNet, StyleNetConfig, pretrained_vgg16
from training.style.train import TrainConfig, train

log = logging.getLogger(__name__)

BUILD_DIR = ROOT / "build" / "style"
STYLE_CONFIG = TrainConfig(
    steps=1600,
    batch=4,
    crop=192,
    style_long_side=384,
    style_weight=8.0,
    content_weight=1.0,
    tv_weight=1.0,
    calibrate_style=True,
    net=StyleNetConfig(channels=(16, 32, 64), residual_blocks=5),
    loss_net=RandomLossConfig(layout="pyramid", widths=(64, 128, 256, 256), content_stage=1, seed=0),
)
EVAL_PHOTOS = 60
SHEET_PHOTOS = 4

# What chose the loss network: Starry Night, 400 steps of 4 crops (192 px) each, same seeds; figures on 20 held-out
# photos. "Judge gap" is the share of the photo's Gram distance to the painting left in the output under the
# independent random judge (lower = more of the painting's statistics); "content" is the edge correlation.
LOSS_NET_EXPERIMENT: dict[str, str] = {
    "A: random pyramid 32/64/128/256, raw relative Gram errors, style weight 4": (
        "judge gap 3.9%, content 0.49; the painting's blues and yellows but no brush texture, blurred"
    ),
    "A2: random pyramid 64/128/256/256, raw errors, style weight 20": (
        "judge gap 1.8%, content 0.30; strong stroke texture but horizontal striping artefacts, objects dissolve"
    ),
    "B: random multi-scale single layer (96 filters of 3x3 and 7x7 at 4 scales), style weight 10": (
        "judge gap 3.7%, content 0.36; colour blobs, no strokes, structure lost; each step 1.7x slower"
    ),
    "C: pyramid as A2, each style layer's error divided by its mean on unstyled photos, style weight 3": (
        "judge gap 4.2%, content 0.48; objects kept, palette right, faint strokes"
    ),
    "D (chosen): as C with style weight 8 and total variation 1.0": (
        "judge gap 2.7%, content 0.41; painterly strokes without striping, objects readable"
    ),
}


def add_arguments(parser: argparse._ActionsContainer) -> None:
    """Options of the style build only (`python -m training style --loss-net vgg16 --download`)."""
    parser.add_argument(
        "--loss-net",
        choices=("random", "vgg16"),
        default="random",
        help="the loss network (vgg16 needs torchvision's ImageNet weights; --download fetches them)",
    )


def build(data_dir: Path, models_dir: Path, download: bool = False, *, loss_net: str = "random") -> None:
    torch.set_num_threads(max(1, min(os.cpu_count() or 1, 8)))
    photos_dir = locate_photos(data_dir, download=download)
    paintings = locate_paintings(data_dir, download=download)
    train_photos = [
        load_rgb(p, short_side=STYLE_CONFIG.photo_short_side) for p in photo_paths(photos_dir, BSDS_TRAIN_SPLITS)
    ]
    held_out = photo_paths(photos_dir, (BSDS_HELD_OUT_SPLIT,))
    eval_photos = held_out_photos(held_out, EVAL_PHOTOS)
    log.info("%d training photos, %d held-out photos for the figures", len(train_photos), len(eval_photos))
    for name in STYLES:
        build_style(name, paintings[name], train_photos, eval_photos, models_dir, loss_net=loss_net, download=download)


def build_style(
    name: str,
    painting_path: Path,
    train_photos: list[np.ndarray],
    eval_photos: list[np.ndarray],
    models_dir: Path,
    *,
    loss_net: str = "random",
    download: bool = False,
    config: TrainConfig | None = None,
    build_dir: Path = BUILD_DIR,
) -> dict:
    config = config or STYLE_CONFIG
    painting_info = PAINTINGS[name]
    painting = load_rgb(painting_path, long_side=config.style_long_side)
    net_for_loss = pretrained_vgg16(download=download) if loss_net == "vgg16" else RandomLossNet(config.loss_net).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log.info("training %s on %s with %s", name, device, net_for_loss.describe())
    net, record = train(painting, train_photos, config, build_dir / name, loss_net=net_for_loss, device=device)
    net_for_loss = net_for_loss.cpu()
    metadata = {
        "model": f"style/{name}",
        "style": name,
        "painting": painting_info.caption,
        "loss_net": net_for_loss.name,
    }
    model = export(net, metadata)
    max_diff = parity(net, model)
    metrics = evaluate(model, eval_photos, painting, net_for_loss)
    metrics["export_parity_max_abs"] = float(f"{max_diff:.3g}")
    metrics["speed_512"] = measure_speed(net, model)
    sess = cpu_session(model)
    sheet_photos = eval_photos[:SHEET_PHOTOS]
    outputs = [(onnx_run(sess, p[None])[0] * 255 + 0.5).clip(0, 255).astype(np.uint8) for p in sheet_photos]
    sheet = contact_sheet(
        sheet_photos,
        outputs,
        painting,
        f"{painting_info.caption}: held-out photos",
        build_dir / "contact" / f"{name}.png",
    )
    log.info("%s: %s (contact sheet %s)", name, metrics, sheet)
    parameters = sum(p.numel() for p in net.parameters())
    return write_model(
        models_dir,
        f"style/{name}",
        model,
        metrics=metrics,
        training={
            **training_record(
                config,
                record,
                device if device == "cuda" else f"cpu ({torch.get_num_threads()} threads, {platform.machine()})",
            ),
            "parameters": parameters,
            "torch": torch.__version__,
        },
        data={
            **BSDS500.provenance(),
            "train": "BSDS500 train + val (300 photos)",
            "held_out": "BSDS500 test (200 photos)",
            "style_images": PAINTINGS_DATASET.provenance() | {"this_style": painting_info.file.path},
        },
        card={
            "summary": f"Fast style network for {painting_info.caption}",
            "painting": {"title": painting_info.title, "artist": painting_info.artist, "year": painting_info.year},
            "architecture": (
                f"Johnson et al. 2016 feed-forward network at widths {'/'.join(map(str, config.net.channels))}, "
                f"{config.net.residual_blocks} residual blocks, instance norm, nearest upsampling + conv; "
                f"{parameters:,} parameters"
            ),
            "loss_network": net_for_loss.describe(),
            "independent_judge": RandomLossNet(JUDGE).describe(),
            "goals": GOALS,
            "experiment": LOSS_NET_EXPERIMENT,
        },
        card_type=StyleCard,
    )
