"""Data of the vision demos: Penn-Fudan pedestrians (boxes + masks) and the raccoon dataset (boxes), with sources.

Neither dataset is committed. On the project's machines they lie in ../shared/data; `--download` fetches them from
their public homes (the official Penn-Fudan zip, the raccoon repository at a pinned commit) and every build checks
one digest over all of each dataset's files.

The held-out split is fixed (seed HELD_OUT_SEED, HELD_OUT_FRACTION of each dataset's images, chosen by image name)
and shared by detection and segmentation: no model ever trains on a held-out image.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.common.datasets import DataFile, Dataset, folder_digest

log = logging.getLogger(__name__)

HELD_OUT_SEED = 2007  # the year of the Penn-Fudan paper
HELD_OUT_FRACTION = 0.2

PENN_FUDAN = Dataset(
    name="penn_fudan",
    version="PennFudanPed (official zip layout): 170 images, 170 instance masks, 170 annotations, 423 pedestrians",
    licence="Penn-Fudan Database: research use; not to be reposted (never committed, only models trained on it)",
    citation="L. Wang, J. Shi, G. Song, I. Shen, Object Detection Combining Recognition and Segmentation, ACCV 2007",
    files=(
        DataFile(
            path="penn_fudan/PennFudanPed",
            url="https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip",
            # sha256 of the sorted lines "<file sha256>  <path under PennFudanPed/>\n" over Annotation/*.txt,
            # PNGImages/*.png and PedMasks/*.png (510 files)
            sha256="a6fac6ddb8d8962e2c92dc3a2dd515e0bb4c550147a6728b3c485e6a48419eb4",
        ),
    ),
)
RACCOON_COMMIT = "93938849301895fb73909842ba04af9b602f677a"
RACCOON = Dataset(
    name="raccoon",
    version=f"datitran/raccoon_dataset @ {RACCOON_COMMIT[:7]}: 200 JPEGs, 217 boxes (data/raccoon_labels.csv)",
    licence="repository MIT; images collected from Google and Pixabay, copyright unclear (never committed)",
    citation="D. Tran, raccoon_dataset (2017), github.com/datitran/raccoon_dataset",
    files=(
        DataFile(
            path="raccoon",
            url=f"https://codeload.github.com/datitran/raccoon_dataset/tar.gz/{RACCOON_COMMIT}",
            # sha256 of the sorted lines "<file sha256>  <path under raccoon/>\n" over images/*.jpg and
            # data/raccoon_labels.csv (201 files)
            sha256="2d7a945f435b6543b95bbecbd30508b144f90f7724c0f4a54cc60e2c85790332",
        ),
    ),
)
PENN_FUDAN_PATTERNS = ("Annotation/*.txt", "PNGImages/*.png", "PedMasks/*.png")
RACCOON_PATTERNS = ("images/*.jpg", "data/raccoon_labels.csv")

CLASSES = ("person", "raccoon")  # what Example.labels index: Penn-Fudan pedestrians 0, raccoons 1


@dataclass(frozen=True)
class Example:
    """One annotated image: boxes (N, 4) x1 y1 x2 y2 in pixels (exclusive right/bottom), labels (N,) class index."""

    name: str
    image: Path
    boxes: np.ndarray
    labels: np.ndarray
    mask: Path | None = None  # Penn-Fudan instance mask (0 background, 1..N pedestrian id)


def _locate(dataset: Dataset, patterns: tuple[str, ...], data_dir: Path, download: bool) -> Path:
    item = dataset.files[0]
    folder = Path(data_dir) / item.path
    if not folder.is_dir():
        if not download:
            raise FileNotFoundError(
                f"{folder} not found. Point --data-dir / PORTAL_DATA_DIR at the datasets folder, "
                f"or add --download to fetch it from {item.url}"
            )
        _download(dataset, folder)
    actual = folder_digest(folder, patterns)
    if actual != item.sha256:
        raise ValueError(f"{folder}: digest {actual} != expected {item.sha256}; not the recorded {dataset.name} files")
    return folder


def _download(dataset: Dataset, folder: Path) -> None:
    url = dataset.files[0].url
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - fixed https URL from this module
        archive = response.read()
    if dataset is PENN_FUDAN:
        members = _zip_members(archive, "PennFudanPed/")
    else:
        members = _tar_members(archive, f"raccoon_dataset-{RACCOON_COMMIT}/")
    for relative, content in members:
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            continue
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)


def _zip_members(archive: bytes, prefix: str):
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for name in zf.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                yield name[len(prefix) :], zf.read(name)


def _tar_members(archive: bytes, prefix: str):
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(prefix):
                yield member.name[len(prefix) :], tar.extractfile(member).read()


def locate_penn_fudan(data_dir: Path, *, download: bool = False) -> Path:
    return _locate(PENN_FUDAN, PENN_FUDAN_PATTERNS, data_dir, download)


def locate_raccoon(data_dir: Path, *, download: bool = False) -> Path:
    return _locate(RACCOON, RACCOON_PATTERNS, data_dir, download)


_BOX = re.compile(r"\(Xmin, Ymin\) - \(Xmax, Ymax\) : \((\d+), (\d+)\) - \((\d+), (\d+)\)")


def penn_fudan_examples(folder: Path) -> list[Example]:
    """The 170 Penn-Fudan images with their annotated boxes (1-based inclusive in the files -> 0-based exclusive)."""
    examples = []
    for note in sorted((folder / "Annotation").glob("*.txt")):
        boxes = [[int(v) for v in m.groups()] for m in _BOX.finditer(note.read_text(encoding="latin-1"))]
        arr = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        arr[:, :2] -= 1  # top-left pixel is (1, 1) in the files; the max corner is inclusive, so it stays
        examples.append(
            Example(
                name=note.stem,
                image=folder / "PNGImages" / f"{note.stem}.png",
                boxes=arr,
                labels=np.zeros(len(arr), dtype=np.int64),
                mask=folder / "PedMasks" / f"{note.stem}_mask.png",
            )
        )
    return examples


def raccoon_examples(folder: Path) -> list[Example]:
    """The 200 raccoon images with their boxes from data/raccoon_labels.csv (clipped to the real image size)."""
    rows: dict[str, list[list[float]]] = {}
    with open(folder / "data" / "raccoon_labels.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["filename"], []).append([float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")])
    examples = []
    for name in sorted(rows):
        path = folder / "images" / name
        with Image.open(path) as im:
            w, h = im.size
        boxes = np.array(rows[name], dtype=np.float32)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        boxes = boxes[(boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)]
        examples.append(
            Example(name=Path(name).stem, image=path, boxes=boxes, labels=np.ones(len(boxes), dtype=np.int64))
        )
    return examples


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_out): a fixed HELD_OUT_FRACTION of the images by name, the same on every machine."""
    names = sorted(e.name for e in examples)
    order = np.random.default_rng(HELD_OUT_SEED).permutation(len(names))
    held = {names[i] for i in order[: round(len(names) * HELD_OUT_FRACTION)]}
    return [e for e in examples if e.name not in held], [e for e in examples if e.name in held]


def load_person_mask(path: Path) -> np.ndarray:
    """Penn-Fudan instance mask -> (H, W) uint8, 1 where any pedestrian is."""
    with Image.open(path) as image:
        return (np.asarray(image) > 0).astype(np.uint8)
