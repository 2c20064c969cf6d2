"""BSDS500: 500 natural photos (200 train, 100 val, 200 test) used by several vision demos' training.

Style networks train on train + val and keep test for their figures; the detector uses the person-free ones as
background photos. Never committed; `--download` fetches the pinned GitHub tarball and one digest over all 500 files
checks it.
"""

from __future__ import annotations

import io
import logging
import tarfile
import urllib.request
from pathlib import Path

from training.common.datasets import DataFile, Dataset, folder_digest

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
