"""The two labelled corpora of the toxicity demo and their fixed splits.

Davidson et al. 2017 (3 classes, 24,783 tweets): stratified 20% held out with seed 42 (the issue's test split);
a further 10% of the rest (seed 43) validates choices made while training. OLID v1.0 sub-task A (offensive or
not): the official training file, its own 10% validation split (seed 43), and the official 860-tweet test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from services.toxicity import normalise
from training.common.datasets import DataFile, Dataset, locate

DAVIDSON_LABELS = ("hate speech", "offensive", "neither")
OLID_LABELS = ("not offensive", "offensive")

DAVIDSON = Dataset(
    name="davidson_hate_offensive",
    version="t-davidson/hate-speech-and-offensive-language data/labeled_data.csv (blob of commit 35b9886)",
    licence="MIT (repository, (c) 2017 Tom Davidson); tweets are Twitter content; cite the paper",
    citation="T. Davidson, D. Warmsley, M. Macy, I. Weber, Automated Hate Speech Detection and the Problem of "
    "Offensive Language, ICWSM 2017",
    files=(
        DataFile(
            path="davidson_hate_offensive/labeled_data.csv",
            url="https://raw.githubusercontent.com/t-davidson/hate-speech-and-offensive-language/"
            "35b988613d97a0d367da80d200d7be4c7a9f4e78/data/labeled_data.csv",
            sha256="fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281",
        ),
    ),
)

_OLID_URL = (
    "https://raw.githubusercontent.com/wenliangdai/multi-task-offensive-language-detection/"
    "48c38816dc442361dc0fe39a3311e7cfb751b134/OLIDv1.0/"
)
OLID = Dataset(
    name="olid",
    version="OLID v1.0 (OffensEval 2019 sub-task A), official training and test files",
    licence="no licence stated by the release (cite the paper); origin repository CC BY 4.0; tweets are Twitter "
    "content",
    citation="M. Zampieri, S. Malmasi, P. Nakov, S. Rosenthal, N. Farra, R. Kumar, Predicting the Type and Target "
    "of Offensive Posts in Social Media, NAACL 2019",
    files=(
        DataFile(
            "olid/olid-training-v1.0.tsv",
            _OLID_URL + "olid-training-v1.0.tsv",
            "d976bd6faf7800571d06aa4fda00c11c1d39e6fd139747067f683d0c6e76d31f",
        ),
        DataFile(
            "olid/testset-levela.tsv",
            _OLID_URL + "testset-levela.tsv",
            "5fff16b4fc474b859540200ef7befd42883fc42810e0a18d3bd621ba90b9cb9e",
        ),
        DataFile(
            "olid/labels-levela.csv",
            _OLID_URL + "labels-levela.csv",
            "f301af1a52210727e6601958e7b9795a0b22d81f51f9ad8e1870c503c684fc31",
        ),
    ),
)


@dataclass(frozen=True)
class Split:
    """Normalised texts and integer labels of one part of a corpus."""

    texts: tuple[str, ...]
    labels: np.ndarray  # (N,) int64


@dataclass(frozen=True)
class Corpus:
    name: str
    labels: tuple[str, ...]
    train: Split
    valid: Split
    test: Split


def _split(texts: pd.Series, labels: np.ndarray, index: np.ndarray) -> Split:
    return Split(tuple(normalise(t) for t in texts.iloc[index]), labels[index].astype(np.int64))


def davidson(data_dir: Path, *, download: bool = False) -> Corpus:
    """Davidson: 80% (train 90% / valid 10%) / 20% test, stratified by class."""
    (path,) = locate(DAVIDSON, data_dir, download=download)
    frame = pd.read_csv(path)
    labels = frame["class"].to_numpy()
    rows = np.arange(len(frame))
    rest, test = train_test_split(rows, test_size=0.2, stratify=labels, random_state=42)
    train, valid = train_test_split(rest, test_size=0.1, stratify=labels[rest], random_state=43)
    parts = (_split(frame["tweet"], labels, part) for part in (train, valid, test))
    return Corpus("davidson", DAVIDSON_LABELS, *parts)


def olid(data_dir: Path, *, download: bool = False) -> Corpus:
    """OLID sub-task A: official training file (train 90% / valid 10%) and official test set."""
    train_path, test_path, labels_path = locate(OLID, data_dir, download=download)
    frame = pd.read_csv(train_path, sep="\t")
    labels = (frame["subtask_a"] == "OFF").to_numpy().astype(np.int64)
    train, valid = train_test_split(np.arange(len(frame)), test_size=0.1, stratify=labels, random_state=43)
    test = pd.read_csv(test_path, sep="\t").merge(pd.read_csv(labels_path), on="id", validate="one_to_one")
    test_labels = (test["label"] == "OFF").to_numpy().astype(np.int64)
    return Corpus(
        "olid",
        OLID_LABELS,
        _split(frame["tweet"], labels, train),
        _split(frame["tweet"], labels, valid),
        _split(test["tweet"], test_labels, np.arange(len(test))),
    )
