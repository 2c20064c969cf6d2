"""The text-generation corpora: Tiny Shakespeare (split as nanoGPT splits it) and the cleaned dinosaur names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.common.datasets import DataFile, Dataset, locate

TINY_SHAKESPEARE = Dataset(
    name="tiny_shakespeare",
    version="karpathy/char-rnn data/tinyshakespeare/input.txt @ 6f9487a (1,115,394 characters)",
    licence="Shakespeare's text is public domain; char-rnn repository MIT",
    citation="A. Karpathy, char-rnn (2015): works of William Shakespeare concatenated",
    files=(
        DataFile(
            path="tiny_shakespeare/input.txt",
            url="https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
            "data/tinyshakespeare/input.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
    ),
)

DINOSAUR_NAMES = Dataset(
    name="dinosaur_names",
    version="deeplearning.ai Sequence Models week 1 dinos.txt (1,536 lines) as in Kulbear/deep-learning-coursera",
    licence="course material without an explicit data licence; the names are factual (dinosaur genera); repo MIT",
    citation="deeplearning.ai Deep Learning Specialization, Course 5: Dinosaur Island (character-level model)",
    files=(
        DataFile(
            path="dinosaur_names/dinos.txt",
            url="https://raw.githubusercontent.com/Kulbear/deep-learning-coursera/"
            "f32be387c9eb15ce6a401cfea54e2c6d42c73404/Sequence%20Models/dinos.txt",
            sha256="ad6465621cf56c08f71d4fbb40cf7eab763f9df42c54cc460d6c4d86e9c927fb",
        ),
    ),
)

TRAIN_FRACTION = 0.9  # nanoGPT's shakespeare_char: first 90% train, last 10% validation
NAME_VALIDATION_FRACTION = 0.1
NAME_SPLIT_SEED = 42
NOT_NAMES = frozenset({"skeleton", "illustration"})  # words in the course file that are not genera
END = "\n"  # the dinosaur model's start and end symbol


@dataclass(frozen=True)
class Shakespeare:
    train: str
    validation: str

    @property
    def vocabulary(self) -> list[str]:
        return sorted(set(self.train + self.validation))


def shakespeare(data_dir: Path, *, download: bool = False) -> Shakespeare:
    (path,) = locate(TINY_SHAKESPEARE, data_dir, download=download)
    text = path.read_text(encoding="ascii")
    cut = int(len(text) * TRAIN_FRACTION)
    return Shakespeare(train=text[:cut], validation=text[cut:])


@dataclass
class CleanedNames:
    names: list[str]  # lower case, unique, in file order
    changes: dict[str, list[str]] = field(default_factory=dict)


def clean_names(lines: list[str]) -> CleanedNames:
    """Undo the course file's quirks: run-together names split, non-names dropped, case folded, repeats dropped.

    `changes` records what was done so the model card can say it.
    """
    changes: dict[str, list[str]] = {"split": [], "dropped_not_names": [], "lowercased": [], "dropped_repeats": []}
    names: list[str] = []
    seen: set[str] = set()
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        parts = re.split(r"(?<=[a-z])(?=[A-Z])", line)  # "DiceratusDiclonius" -> Diceratus, Diclonius
        if len(parts) > 1:
            changes["split"].append(f"{line} -> {' + '.join(parts)}")
        for part in parts:
            if part[:1].islower():
                changes["lowercased"].append(part)
            name = part.lower()
            if name in NOT_NAMES:
                changes["dropped_not_names"].append(part)
            elif name in seen:
                changes["dropped_repeats"].append(part)
            elif name.isascii() and name.isalpha():
                seen.add(name)
                names.append(name)
    return CleanedNames(names=names, changes=changes)


@dataclass(frozen=True)
class Names:
    train: list[str]
    validation: list[str]
    changes: dict[str, list[str]]

    @property
    def vocabulary(self) -> list[str]:
        return [END, *sorted(set("".join(self.train + self.validation)))]


def dinosaur_names(data_dir: Path, *, download: bool = False) -> Names:
    (path,) = locate(DINOSAUR_NAMES, data_dir, download=download)
    cleaned = clean_names(path.read_text(encoding="ascii").split("\n"))
    order = np.random.default_rng(NAME_SPLIT_SEED).permutation(len(cleaned.names))
    n_val = round(len(order) * NAME_VALIDATION_FRACTION)
    validation = sorted(cleaned.names[i] for i in order[:n_val])
    train = sorted(cleaned.names[i] for i in order[n_val:])
    return Names(train=train, validation=validation, changes=cleaned.changes)
