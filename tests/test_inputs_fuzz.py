"""Garbage in, only InvalidInputError (or a valid result) out."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from services.errors import InvalidInputError
from services.housing import CSV_SCHEMA
from services.inputs import read_csv, read_image, read_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


HEADERS = [_png(3, 2)[:n] for n in (8, 16, 33)] + [b"GIF89a", b"\xff\xd8\xff\xe0", b"BM", b"II*\x00", b"RIFF"]


@FUZZ
@given(st.binary(max_size=2048))
def test_read_image_garbage_gives_only_typed_errors(data: bytes) -> None:
    _image_or_invalid(data)


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=512))
def test_read_image_real_headers_with_garbage_give_only_typed_errors(header: bytes, tail: bytes) -> None:
    _image_or_invalid(header + tail)


@FUZZ
@given(st.integers(0, 200), st.binary(min_size=1, max_size=8))
def test_read_image_mutated_png_gives_only_typed_errors(position: int, noise: bytes) -> None:
    data = bytearray(_png(7, 5))
    position %= len(data)
    data[position : position + len(noise)] = noise
    _image_or_invalid(bytes(data))


def _image_or_invalid(data: bytes) -> None:
    try:
        array = read_image(data)
    except InvalidInputError:
        return
    assert array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=2048))
def test_read_csv_garbage_gives_only_typed_errors(data: bytes) -> None:
    try:
        read_csv(data, CSV_SCHEMA)
    except InvalidInputError:
        pass


@FUZZ
@given(st.text(alphabet=st.sampled_from(list(",;\t|\"'\n\r 0123456789.-abcNaN")), max_size=400))
def test_read_csv_csv_like_text_gives_only_typed_errors(text: str) -> None:
    header = ",".join(CSV_SCHEMA.required) + "\n"
    try:
        frame = read_csv((header + text).encode(), CSV_SCHEMA)
    except InvalidInputError:
        return
    assert list(frame.columns)[: len(CSV_SCHEMA.required)] == list(CSV_SCHEMA.required)


@FUZZ
@given(st.text(max_size=300))
def test_read_text_any_text_comes_out_clean(text: str) -> None:
    cleaned = read_text(text)
    assert all(ch in "\n\t" or (ord(ch) >= 32 and not 0x7F <= ord(ch) <= 0x9F) for ch in cleaned)
