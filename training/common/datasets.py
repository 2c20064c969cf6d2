"""Dataset records (where a dataset comes from publicly, its licence, its checksum) and their lookup / download.

Each demo keeps its own records in training/<demo>/data.py; data several demos share lives in training/common.

On the project's machines the files lie in ../shared/data (PORTAL_DATA_DIR); with internet, `--download`
fetches a missing file from its public source and checks its sha256 before use.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from services.registry import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: its path under the data folder, public URL and sha256."""

    path: str
    url: str
    sha256: str
    gzipped: bool = False  # stored as <path> (gzip); url serves the plain file and sha256 is of the plain content


@dataclass(frozen=True)
class Dataset:
    name: str
    version: str
    licence: str
    citation: str
    files: tuple[DataFile, ...]

    def provenance(self) -> dict[str, object]:
        """What the manifest records about the data a model was trained on."""
        return {
            "dataset": self.name,
            "version": self.version,
            "licence": self.licence,
            "citation": self.citation,
            "files": [{"path": f.path, "url": f.url, "sha256": f.sha256} for f in self.files],
        }


def folder_digest(folder: Path, patterns: tuple[str, ...]) -> str:
    """sha256 over the sorted '<sha256>  <relative path>' lines of every file under folder matching the patterns."""
    paths = {p for pattern in patterns for p in Path(folder).glob(pattern) if p.is_file()}
    lines = sorted(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in paths)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def locate(dataset: Dataset, data_dir: Path, *, download: bool = False) -> list[Path]:
    """The dataset's files under data_dir, checksum-verified; fetched first when missing and download is set.

    Raises:
        FileNotFoundError: a file is missing and download is off (the message names the URL).
        ValueError: a file's sha256 differs from the recorded one.
    """
    paths = []
    for item in dataset.files:
        path = Path(data_dir) / item.path
        if not path.exists():
            if not download:
                raise FileNotFoundError(
                    f"{path} not found. Point --data-dir / PORTAL_DATA_DIR at the datasets folder, "
                    f"or add --download to fetch it from {item.url}"
                )
            _download(item, path)
        actual = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() if item.gzipped else sha256_file(path)
        if actual != item.sha256:
            raise ValueError(f"{path} sha256 {actual} != expected {item.sha256}; the file is not the recorded version")
        paths.append(path)
    return paths


def _download(item: DataFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", item.url)
    with urllib.request.urlopen(item.url, timeout=60) as response:  # noqa: S310 - fixed https URL from this table
        content = response.read()
    path.write_bytes(gzip.compress(content, mtime=0) if item.gzipped else content)
