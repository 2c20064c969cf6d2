"""The one place that decodes user input: images, CSV files and text. Only InvalidInputError comes out."""

from __future__ import annotations

import csv
import io
import struct
import unicodedata
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from services.errors import InputTooLargeError, InvalidInputError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # e.g. 8000 x 5000; larger is refused before decoding (decompression bombs)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_CSV_ROWS = 100_000
MAX_TEXT_CHARS = 10_000
_DELIMITERS = ",;\t|"
_ENCODINGS = ("utf-8-sig", "utf-16", "cp1252", "latin-1")
# What a broken file can make Pillow raise while opening or decoding it.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    TypeError,
    KeyError,
    ZeroDivisionError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def read_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an uploaded image to RGB.

    EXIF orientation is applied, animations give their first frame, any mode (CMYK, 16-bit, palette, alpha,
    greyscale) becomes RGB; transparency is flattened onto white.

    Args:
        data: the file's bytes.
        max_bytes: refuse larger files.
        max_pixels: refuse images with more pixels, before decoding them.

    Returns:
        (H, W, 3) uint8 array.

    Raises:
        InvalidInputError: empty, too large, not an image, or corrupt.
    """
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidInputError("The image file is empty: choose a PNG, JPEG, GIF, BMP, TIFF or WebP file.")
    if len(data) > max_bytes:
        raise InputTooLargeError(f"The image is {len(data) / 1024 / 1024:.1f} MB; the limit is {_mb(max_bytes)}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": the pixels may still be fine
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise InputTooLargeError(
                        f"The image is {width} x {height} pixels ({width * height / 1e6:.0f} MP); "
                        f"the limit is {max_pixels / 1e6:.0f} MP. Resize it and try again."
                    )
                image.seek(0)  # first frame of an animation
                return _to_rgb(ImageOps.exif_transpose(image))
    except InvalidInputError:
        raise
    except UnidentifiedImageError:
        raise InvalidInputError(
            "This file is not an image this portal can read: use PNG, JPEG, GIF, BMP, TIFF or WebP."
        ) from None
    except _DECODE_ERRORS as err:
        raise InvalidInputError(
            f"The image could not be decoded ({type(err).__name__}): the file may be corrupt "
            "or truncated. Try re-saving it as PNG or JPEG."
        ) from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.width < 1 or image.height < 1:
        raise InvalidInputError("The image has no pixels.")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit greyscale: stretch to 8 bits
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        image = Image.fromarray(scaled.round().astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True)
class CsvSchema:
    """Columns a CSV must have (name -> 'number' or 'text'), and columns it may have.

    keep_other: any other column is kept as text (e.g. ids beside a text column) instead of being refused.
    """

    required: Mapping[str, str]
    optional: Mapping[str, str] = field(default_factory=dict)
    keep_other: bool = False


def read_csv(
    data: bytes, schema: CsvSchema, *, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_CSV_ROWS
) -> pd.DataFrame:
    """Decode an uploaded CSV and check it against a schema.

    The encoding (UTF-8, UTF-16, Windows-1252) and delimiter (comma, semicolon, tab, pipe) are detected.
    Empty cells in number columns become NaN.

    Returns:
        DataFrame with the schema's columns (required first, then optional ones present), typed.

    Raises:
        InvalidInputError: too large, empty, undecodable, or not matching the schema; the message names
            the missing, extra or mistyped columns.
    """
    if not isinstance(data, bytes | bytearray) or not data.strip():
        raise InvalidInputError("The CSV file is empty: it needs a header line and at least one row.")
    if len(data) > max_bytes:
        raise InputTooLargeError(f"The CSV is {len(data) / 1024 / 1024:.1f} MB; the limit is {_mb(max_bytes)}.")
    text = _decode(bytes(data))
    delimiter = _sniff_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            nrows=max_rows + 1,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as err:
        raise InvalidInputError(f"The CSV could not be parsed: {err}".strip()) from None
    if len(frame) > max_rows:
        raise InputTooLargeError(f"The CSV has more than {max_rows:,} rows; split it into smaller files.")
    if frame.empty:
        raise InvalidInputError("The CSV has a header but no rows.")
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_columns(frame, schema, delimiter)
    return _typed(frame, schema)


def _decode(data: bytes) -> str:
    for encoding in _ENCODINGS:
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInputError("The CSV's text encoding could not be read; save it as UTF-8.")  # latin-1 never fails


def _sniff_delimiter(text: str) -> str:
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _check_columns(frame: pd.DataFrame, schema: CsvSchema, delimiter: str) -> None:
    columns = list(frame.columns)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    missing = [c for c in schema.required if c not in columns]
    extra = [] if schema.keep_other else [c for c in columns if c not in schema.required and c not in schema.optional]
    if not (missing or extra or duplicated):
        return
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s): {', '.join(map(repr, extra))}")
    if duplicated:
        problems.append(f"repeated column(s): {', '.join(duplicated)}")
    hint = f" Expected the header: {','.join(schema.required)}"
    if len(columns) == 1:
        hint += f" (the header was read as one column with delimiter {delimiter!r}: use commas between names)"
    raise InvalidInputError("The CSV does not match the expected columns: " + "; ".join(problems) + "." + hint)


def _typed(frame: pd.DataFrame, schema: CsvSchema) -> pd.DataFrame:
    kinds = {**schema.required, **{k: v for k, v in schema.optional.items() if k in frame.columns}}
    if schema.keep_other:  # every column, in the file's order
        kinds = {c: kinds.get(c, "text") for c in frame.columns}
    out = {}
    for name, kind in kinds.items():
        column = frame[name].str.strip()
        if kind == "number":
            numbers = pd.to_numeric(column.replace("", None), errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & (column != "").to_numpy())
            if bad.size:
                raise InvalidInputError(
                    f"Column {name} must hold numbers, but row {bad[0] + 1} has {column.iloc[bad[0]]!r}"
                    f"{f' ({bad.size} rows in all)' if bad.size > 1 else ''}."
                )
            out[name] = numbers.astype(np.float64)
        else:
            out[name] = column
    return pd.DataFrame(out)


def read_text(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Clean user text: NFC-normalised, control characters removed (newlines and tabs kept), length capped.

    Raises:
        InvalidInputError: not text, or longer than max_chars.
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"Expected text, got {type(text).__name__}.")
    if len(text) > max_chars:
        raise InputTooLargeError(f"The text is {len(text):,} characters; the limit is {max_chars:,}. Shorten it.")
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
