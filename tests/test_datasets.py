from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from training.books.data import BOOK_CROSSING
from training.common.datasets import DataFile, Dataset, locate
from training.housing.data import CALIFORNIA_HOUSING


def _dataset(content: bytes) -> Dataset:
    digest = hashlib.sha256(content).hexdigest()
    return Dataset("toy", "1", "test", "none", (DataFile("toy/a.csv", "https://example.invalid/a.csv", digest),))


def test_locate_finds_a_verified_file(tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.csv").write_bytes(b"x,y\n")
    assert locate(_dataset(b"x,y\n"), tmp_path) == [tmp_path / "toy" / "a.csv"]


def test_locate_missing_file_names_its_public_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"add --download to fetch it from https://example.invalid/a.csv"):
        locate(_dataset(b""), tmp_path)


def test_locate_refuses_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.csv").write_bytes(b"changed")
    with pytest.raises(ValueError, match="is not the recorded version"):
        locate(_dataset(b"x,y\n"), tmp_path)


def test_housing_provenance_names_source_and_licence() -> None:
    provenance = CALIFORNIA_HOUSING.provenance()
    assert provenance["files"][0]["url"].startswith("https://")
    assert "Apache-2.0" in provenance["licence"]


def test_locate_checks_a_gzipped_file_by_its_plain_content(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.csv.gz").write_bytes(gzip.compress(b"x,y\n", mtime=0))
    item = DataFile("toy/a.csv.gz", "https://example.invalid/a.csv", hashlib.sha256(b"x,y\n").hexdigest(), True)
    assert locate(Dataset("toy", "1", "test", "none", (item,)), tmp_path) == [tmp_path / "toy" / "a.csv.gz"]


def test_book_crossing_source_is_a_pinned_public_url() -> None:
    (item,) = BOOK_CROSSING.files
    assert item.url.startswith("https://raw.githubusercontent.com/") and item.gzipped
