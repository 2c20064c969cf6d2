"""The vision photo pool: every photo the detector and the segmenter may learn from or be judged on, with its human
boxes where they exist (person masks: training/segmentation/teacher.py).

Five datasets, none committed (on the project's machines they lie in ../shared/data; the public source of each is
named in its record below):
- coco128: the first 128 COCO train2017 photos with their human boxes in all 80 COCO classes;
- imagenette: 6,000 unlabelled 224x224 ImageNet photos of 10 kinds (anglers, dogs, trucks, churches, ...);
- bsds500: 500 unlabelled natural photos (Berkeley segmentation set);
- penn_fudan: 170 street photos, every pedestrian boxed by people (other things in them are not);
- raccoon: 200 raccoon photos, every raccoon boxed by people.

Both demos share the held-out split below, so neither model trains on a photo the other is judged on. Where no person
drew a box, the detection teacher (training/detection/teacher.py) labels the photo; a Photo says which classes
its human boxes cover completely (`human_classes`), so that teacher boxes are added only for the others.

Held out, never trained on (fixed by name, so every build and every benchmark use the same photos):
- a seeded quarter of coco128 (the figure that stands for everyday photos: real labels, 80 classes);
- a seeded tenth of imagenette and all 200 BSDS500 test photos (judged against the teacher's labels);
- the Penn-Fudan and raccoon images that training.common.vision_data.split holds out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from services.detection import COCO_CLASSES
from training.common.bsds import BSDS500, BSDS_HELD_OUT_SPLIT, locate_photos, photo_paths
from training.common.datasets import DataFile, Dataset, folder_digest
from training.common.vision_data import (
    PENN_FUDAN,
    RACCOON,
    locate_penn_fudan,
    locate_raccoon,
    penn_fudan_examples,
    raccoon_examples,
    split,
)

RACCOON_CLASS = "raccoon"  # the one class COCO lacks; our raccoon photos give it
COCO_HELD_OUT_SHARE = 0.25
IMAGENETTE_HELD_OUT_SHARE = 0.10
SPLIT_SALT = "detection-pool-v1"

COCO128 = Dataset(
    name="coco128",
    version="COCO train2017, first 128 photos, YOLO-format boxes in the 80 COCO classes (929 boxes)",
    licence="COCO annotations CC BY 4.0; each photo keeps its Flickr licence (never committed)",
    citation="T.-Y. Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014",
    files=(
        DataFile(
            path="coco128",
            url="https://github.com/lightly-ai/coco128_yolo (commit 6d6f7a0; images/train2017, "
            "object_detection/labels/train2017)",
            # sha256 of the sorted lines "<file sha256>  <path under coco128/>\n" over the photos and box files
            sha256="e568e3bcf488d8f6da0e83f0828a782404918322166d9ca3e74205b07238735c",
        ),
    ),
)
IMAGENETTE = Dataset(
    name="imagenette",
    version="Imagenette train split, first 600 photos (by name) of each of its 10 classes, 224x224: 6,000 JPEGs",
    licence="ImageNet terms: non-commercial research and education (never committed)",
    citation="J. Howard, Imagenette (fast.ai, 2019), a 10-class subset of ImageNet (Deng et al., CVPR 2009)",
    files=(
        DataFile(
            path="imagenette/train",
            url="https://github.com/thunderInfy/imagenette (commit b850f03, folder train/); the full set: "
            "https://github.com/fastai/imagenette",
            # sha256 of the sorted lines "<file sha256>  <path under imagenette/train/>\n" over the 6,000 JPEGs
            sha256="7739568ab9839c20245500c7ac22d3335da1657a45de79d970ba3b8124be1c77",
        ),
    ),
)
COCO_PATTERNS = ("images/train2017/*.jpg", "object_detection/labels/train2017/*.txt")
IMAGENETTE_PATTERNS = ("*/*.JPEG",)
DATASETS = {"coco128": COCO128, "imagenette": IMAGENETTE, "bsds500": BSDS500, "penn_fudan": PENN_FUDAN}
DATASETS["raccoon"] = RACCOON


@dataclass(frozen=True)
class Photo:
    """One photo of the pool. key: '<dataset>/<name>', stable across machines (splits and the teacher cache use it).

    boxes (M, 4) x1 y1 x2 y2 in the photo's pixels and names (M,) are the human boxes; human_classes are the classes
    those boxes cover completely (empty: nobody labelled the photo; all of COCO's for coco128).
    """

    key: str
    path: Path
    boxes: np.ndarray
    names: tuple[str, ...]
    human_classes: frozenset[str]
    held_out: bool

    @property
    def source(self) -> str:
        return self.key.split("/", 1)[0]


def _held_out(key: str, share: float) -> bool:
    """A fixed pseudo-random draw per photo name: the same photos are held out on every machine."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _checked(dataset: Dataset, patterns: tuple[str, ...], data_dir: Path) -> Path:
    item = dataset.files[0]
    folder = Path(data_dir) / item.path
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} not found. Point --data-dir / PORTAL_DATA_DIR at the datasets folder; "
            f"{dataset.name} comes from {item.url}"
        )
    if item.sha256:
        actual = folder_digest(folder, patterns)
        if actual != item.sha256:
            raise ValueError(f"{folder}: digest {actual} != expected {item.sha256}; not the recorded {dataset.name}")
    return folder


def coco_photos(data_dir: Path) -> list[Photo]:
    folder = _checked(COCO128, COCO_PATTERNS, data_dir)
    photos = []
    for image in sorted((folder / "images" / "train2017").glob("*.jpg")):
        label_file = folder / "object_detection" / "labels" / "train2017" / f"{image.stem}.txt"
        rows = np.loadtxt(label_file, ndmin=2) if label_file.exists() else np.zeros((0, 5))
        with Image.open(image) as im:
            w, h = im.size
        cx, cy, bw, bh = (rows[:, i] for i in range(1, 5))
        boxes = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], axis=1)
        names = tuple(COCO_CLASSES[int(c)] for c in rows[:, 0])
        key = f"coco128/{image.name}"
        photos.append(
            Photo(key, image, boxes.astype(np.float32).reshape(-1, 4), names, frozenset(COCO_CLASSES),
                  _held_out(key, COCO_HELD_OUT_SHARE))
        )  # fmt: skip
    return photos


def imagenette_photos(data_dir: Path) -> list[Photo]:
    folder = _checked(IMAGENETTE, IMAGENETTE_PATTERNS, data_dir)
    photos = []
    for image in sorted(folder.glob("*/*.JPEG")):
        key = f"imagenette/{image.parent.name}/{image.name}"
        photos.append(_unlabelled(key, image, _held_out(key, IMAGENETTE_HELD_OUT_SHARE)))
    return photos


def _unlabelled(key: str, path: Path, held_out: bool) -> Photo:
    return Photo(key, path, np.zeros((0, 4), np.float32), (), frozenset(), held_out)


def bsds_photos(data_dir: Path, *, download: bool = False) -> list[Photo]:
    folder = locate_photos(data_dir, download=download)
    photos = []
    for part in ("train", "val", "test"):
        for path in photo_paths(folder, (part,)):
            photos.append(_unlabelled(f"bsds500/{part}/{path.name}", path, part == BSDS_HELD_OUT_SPLIT))
    return photos


def penn_fudan_photos(data_dir: Path, *, download: bool = False) -> list[Photo]:
    train, held = split(penn_fudan_examples(locate_penn_fudan(data_dir, download=download)))
    return [_from_example("penn_fudan", e, "person", i >= len(train)) for i, e in enumerate(train + held)]


def raccoon_photos(data_dir: Path, *, download: bool = False) -> list[Photo]:
    train, held = split(raccoon_examples(locate_raccoon(data_dir, download=download)))
    return [_from_example("raccoon", e, RACCOON_CLASS, i >= len(train)) for i, e in enumerate(train + held)]


def _from_example(source: str, example, name: str, held_out: bool) -> Photo:
    names = tuple(name for _ in range(len(example.boxes)))
    return Photo(f"{source}/{example.image.name}", example.image, example.boxes, names, frozenset({name}), held_out)


def labelled_by_people(data_dir: Path, *, download: bool = False) -> list[Photo]:
    """The photos of the three datasets people boxed: coco128, Penn-Fudan, raccoons."""
    return (
        coco_photos(data_dir)
        + penn_fudan_photos(data_dir, download=download)
        + raccoon_photos(data_dir, download=download)
    )


def pool(data_dir: Path, *, download: bool = False) -> list[Photo]:
    """Every photo of the five datasets, in a fixed order (dataset, then name)."""
    return (
        coco_photos(data_dir)
        + imagenette_photos(data_dir)
        + bsds_photos(data_dir, download=download)
        + penn_fudan_photos(data_dir, download=download)
        + raccoon_photos(data_dir, download=download)
    )
