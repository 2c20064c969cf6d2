"""Data of the style-transfer demo: BSDS500 content photos and the public-domain paintings, with their sources.

Neither the photos nor the paintings are committed; `--download` fetches them from the public repositories below
(pinned commits) and checks every file's sha256 (the photos: one digest over all 500 files' sha256 lines).
"""

from __future__ import annotations

import io
import logging
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import DataFile, Dataset, folder_digest, locate

log = logging.getLogger(__name__)

BSDS_COMMIT = "c4f9ac8c43397cbacbf2e2ba1505efafa769435d"
BSDS500 = Dataset(
    name="bsds500_images",
    version=f"Sisso16/ssn_pytorch BSR/BSDS500/data/images @ {BSDS_COMMIT[:7]}: 200 train, 100 val, 200 test JPEGs",
    licence="Berkeley Segmentation Dataset: non-commercial research and education (Corel photos); never committed",
    citation="P. Arbelaez, M. Maire, C. Fowlkes, J. Malik, Contour Detection and Hierarchical Image Segmentation, "
    "TPAMI 2011",
    files=(
        DataFile(
            path="bsds500/images",
            url=f"https://codeload.github.com/Sisso16/ssn_pytorch/tar.gz/{BSDS_COMMIT}",
            # sha256 of the sorted lines "<file sha256>  <path under images/>\n" over all 500 JPEGs
            sha256="80a156fbcf87747d40ecb1bfbb5de166261733afbc208ee65897cf81a8b5575a",
        ),
    ),
)
BSDS_TRAIN_SPLITS = ("train", "val")  # 300 photos to train on
BSDS_HELD_OUT_SPLIT = "test"  # 200 photos never trained on: evaluation and contact sheets

_NEURAL_STYLE = "https://raw.githubusercontent.com/jcjohnson/neural-style/07c4b82/examples/inputs/"
_MULTI_STYLE = (
    "https://raw.githubusercontent.com/zhanghang1989/PyTorch-Multi-Style-Transfer/75d2560/experiments/images/21styles/"
)


@dataclass(frozen=True)
class Painting:
    """A style image: key (the model's name), title, artist and year, its file and where it comes from."""

    key: str
    title: str
    artist: str
    year: str
    file: DataFile

    @property
    def caption(self) -> str:
        return f"{self.artist}, {self.title} ({self.year})"


def _painting(key: str, title: str, artist: str, year: str, file: str, url: str, sha256: str) -> Painting:
    return Painting(key, title, artist, year, DataFile(path=f"style_paintings/{file}", url=url, sha256=sha256))


PAINTINGS: dict[str, Painting] = {
    p.key: p
    for p in (
        _painting(
            "starry_night",
            "The Starry Night",
            "Vincent van Gogh",
            "1889",
            "vangogh_starry_night_1889.jpg",
            _NEURAL_STYLE + "starry_night.jpg",
            "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098",
        ),
        _painting(
            "great_wave",
            "The Great Wave off Kanagawa",
            "Katsushika Hokusai",
            "c. 1831",
            "hokusai_great_wave_c1831.jpg",
            _MULTI_STYLE + "wave.jpg",
            "14bcf58a39b7095168f27756d76d0c615bb8954acc5eae9e62c66a9684c2ee2b",
        ),
        _painting(
            "the_scream",
            "The Scream",
            "Edvard Munch",
            "1893",
            "munch_the_scream_1893.jpg",
            _NEURAL_STYLE + "the_scream.jpg",
            "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee",
        ),
        _painting(
            "composition_vii",
            "Composition VII",
            "Wassily Kandinsky",
            "1913",
            "kandinsky_composition_vii_1913.jpg",
            _NEURAL_STYLE + "composition_vii.jpg",
            "8f992ed4aecd6dd56972d7bc8166761de7c94e670ee6effa8fd05f3daeb33409",
        ),
        _painting(
            "shipwreck",
            "The Shipwreck of the Minotaur",
            "J. M. W. Turner",
            "c. 1810",
            "turner_shipwreck_of_the_minotaur_c1810.jpg",
            _NEURAL_STYLE + "shipwreck.jpg",
            "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213",
        ),
    )
}

PAINTINGS_DATASET = Dataset(
    name="style_paintings",
    version="public-domain paintings from jcjohnson/neural-style @ 07c4b82 and "
    "zhanghang1989/PyTorch-Multi-Style-Transfer @ 75d2560 (21styles)",
    licence="the paintings are in the public domain; the image files are not committed",
    citation="; ".join(p.caption for p in PAINTINGS.values()),
    files=tuple(p.file for p in PAINTINGS.values()),
)


def locate_photos(data_dir: Path, *, download: bool = False) -> Path:
    """The BSDS500 images folder (train/, val/, test/), verified; fetched from GitHub first when asked."""
    item = BSDS500.files[0]
    folder = Path(data_dir) / item.path
    if not folder.is_dir():
        if not download:
            raise FileNotFoundError(
                f"{folder} not found. Point --data-dir / PORTAL_DATA_DIR at the datasets folder, "
                f"or add --download to fetch it from {item.url}"
            )
        _download_photos(item.url, folder)
    actual = folder_digest(folder, ("**/*.jpg",))
    if actual != item.sha256:
        raise ValueError(f"{folder}: digest {actual} != expected {item.sha256}; not the recorded 500 images")
    return folder


def _download_photos(url: str, folder: Path) -> None:
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - fixed https URL
        archive = response.read()
    marker = "/BSR/BSDS500/data/images/"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or marker not in member.name or not member.name.endswith(".jpg"):
                continue
            relative = Path(member.name.split(marker, 1)[1])
            if relative.is_absolute() or ".." in relative.parts:
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())


def photo_paths(folder: Path, splits: tuple[str, ...]) -> list[Path]:
    return sorted(p for split in splits for p in (folder / split).glob("*.jpg"))


def load_rgb(path: Path, *, short_side: int | None = None, long_side: int | None = None) -> np.ndarray:
    """An image as (H, W, 3) uint8, optionally resized (Lanczos) to a short or long side."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        scale = None
        if short_side is not None:
            scale = short_side / min(w, h)
        elif long_side is not None:
            scale = long_side / max(w, h)
        if scale is not None and scale != 1:
            image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8).copy()


def locate_paintings(data_dir: Path, *, download: bool = False) -> dict[str, Path]:
    paths = locate(PAINTINGS_DATASET, data_dir, download=download)
    return dict(zip(PAINTINGS, paths, strict=True))
