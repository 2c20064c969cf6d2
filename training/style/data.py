"""Data of the style-transfer demo: BSDS500 content photos and the public-domain paintings, with their sources.

Neither the photos nor the paintings are committed; `--download` fetches them from the public repositories below
(pinned commits) and checks every file's sha256 (the photos: one digest over all 500 files' sha256 lines).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from training.common.datasets import DataFile, Dataset, locate

log = logging.getLogger(__name__)

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
        _painting(
            "delaunay_portrait",
            "Portrait of Jean Metzinger",
            "Robert Delaunay",
            "1906",
            "delaunay_portrait_1906.jpg",
            _MULTI_STYLE + "Robert_Delaunay,_1906,_Portrait.jpg",
            "fc89c275028b6a98e8e6896caf5df930eeda63d2314ddc60072d549f55fcc826",
        ),
        _painting(
            "woman_with_a_hat",
            "Woman with a Hat",
            "Henri Matisse",
            "1905",
            "matisse_woman_with_a_hat_1905.jpg",
            _NEURAL_STYLE + "woman-with-hat-matisse.jpg",
            "6a8b2383d9c110354a97a42c74bdcc5341be879cbb842ddb7ab5843dbdf56d53",
        ),
        _painting(
            "udnie",
            "Udnie (Young American Girl, The Dance)",
            "Francis Picabia",
            "1913",
            "picabia_udnie_1913.jpg",
            _MULTI_STYLE + "udnie.jpg",
            "c3d3d4b9e325b485820d1a91df3bad591c2bab86919412e9f1b424e862cf204a",
        ),
    )
}

PAINTINGS_DATASET = Dataset(
    name="style_paintings",
    version="public-domain paintings from jcjohnson/neural-style @ 07c4b82 and "
    "zhanghang1989/PyTorch-Multi-Style-Transfer @ 75d2560 (21styles)",
    licence="the paintings are in the public domain (Matisse and Picabia: in the US; in the EU since 2025 and 2024); "
    "the image files are not committed",
    citation="; ".join(p.caption for p in PAINTINGS.values()),
    files=tuple(p.file for p in PAINTINGS.values()),
)


def locate_paintings(data_dir: Path, *, download: bool = False) -> dict[str, Path]:
    paths = locate(PAINTINGS_DATASET, data_dir, download=download)
    return dict(zip(PAINTINGS, paths, strict=True))
