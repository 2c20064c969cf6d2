"""The training set in one file (build/detection/, outside git): photos as WebP at training size, with their boxes.

A pack lets a run go on where the datasets are not (a lent GPU machine gets the repository and this file, nothing
else); it is made from ../shared by the build and holds nothing that is committed. Read with numpy alone (no
pickle): one uint8 buffer of encoded images, offsets into it, and the boxes, labels and ignore regions stacked with
their own offsets.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.detection.train import Sample

QUALITY = 60


def _encode(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="WEBP", quality=QUALITY, method=4)
    return buffer.getvalue()


def write_pack(path: Path, samples: list[Sample], classes: tuple[str, ...], meta: dict) -> Path:
    """Write samples (and the class list and a description) to path atomically; returns path."""
    blobs = [_encode(s.image) for s in samples]

    def offsets(sizes) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    arrays = {
        "images": np.frombuffer(b"".join(blobs), np.uint8),
        "image_offsets": offsets([len(b) for b in blobs]),
        "boxes": np.concatenate([s.boxes.reshape(-1, 4) for s in samples]).astype(np.float32),
        "labels": np.concatenate([s.labels.reshape(-1) for s in samples]).astype(np.int64),
        "box_offsets": offsets([len(s.labels) for s in samples]),
        "ignore": np.concatenate([s.ignore.reshape(-1, 4) for s in samples]).astype(np.float32),
        "ignore_offsets": offsets([len(s.ignore) for s in samples]),
        "sources": np.array([s.source for s in samples]),
        "classes": np.array(classes),
        "meta": np.array(json.dumps(meta, sort_keys=True)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)
    return path


def read_pack(path: Path) -> tuple[list[Sample], tuple[str, ...], dict]:
    """(samples with decoded images, class list, description) from a pack written by write_pack."""
    with np.load(path, allow_pickle=False) as pack:
        data = {k: pack[k] for k in pack.files}
    io_, bo, go = data["image_offsets"], data["box_offsets"], data["ignore_offsets"]
    samples = []
    for i, source in enumerate(data["sources"]):
        with Image.open(io.BytesIO(data["images"][io_[i] : io_[i + 1]].tobytes())) as im:
            image = np.asarray(im.convert("RGB"))
        samples.append(
            Sample(
                image,
                data["boxes"][bo[i] : bo[i + 1]],
                data["labels"][bo[i] : bo[i + 1]],
                data["ignore"][go[i] : go[i + 1]],
                str(source),
            )
        )
    return samples, tuple(str(c) for c in data["classes"]), json.loads(str(data["meta"]))
