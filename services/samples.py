"""Sample photos bundled with the portal (assets/samples): public-domain or CC0 images from the scikit-image wheel.

A fixed table: the pages offer these by name, never by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.errors import NotFoundError
from services.inputs import read_image

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


@dataclass(frozen=True)
class Sample:
    name: str
    file: str
    title: str
    credit: str
    licence: str


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample(
            "astronaut",
            "astronaut.jpg",
            "Astronaut Eileen Collins",
            "NASA Great Images database, via scikit-image (skimage.data.astronaut)",
            "public domain",
        ),
        Sample(
            "chelsea",
            "chelsea.jpg",
            "Chelsea the cat",
            "Stefan van der Walt, via scikit-image (skimage.data.chelsea)",
            "CC0",
        ),
        Sample(
            "coffee",
            "coffee.jpg",
            "Coffee cup (courtesy of Pikolo Espresso Bar)",
            "Rachel Michetti, via scikit-image (skimage.data.coffee)",
            "CC0",
        ),
        Sample(
            "rocket",
            "rocket.jpg",
            "Falcon 9 launching DSCOVR",
            "SpaceX, via scikit-image (skimage.data.rocket)",
            "public domain",
        ),
    )
}


def load_sample(name: str) -> np.ndarray:
    """A bundled sample as (H, W, 3) uint8 RGB."""
    sample = SAMPLES.get(name)
    if sample is None:
        raise NotFoundError(f"Unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}.")
    return read_image((SAMPLES_DIR / sample.file).read_bytes())


def attribution(name: str) -> str:
    sample = SAMPLES[name]
    return f"{sample.title}. {sample.credit}; {sample.licence}."
