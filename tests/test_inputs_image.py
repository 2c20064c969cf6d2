from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.errors import InvalidInputError
from services.inputs import read_image


def _encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _gradient(width: int = 6, height: int = 4) -> Image.Image:
    values = np.arange(width * height * 3, dtype=np.uint8).reshape(height, width, 3)
    return Image.fromarray(values, "RGB")


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "CMYK", "P", "I;16", "I", "F", "LA", "RGBA"])
def test_read_image_any_mode_becomes_rgb_uint8(mode: str) -> None:
    image = _gradient().convert(mode) if mode not in ("I;16", "I", "F") else Image.new(mode, (6, 4))
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    array = read_image(_encode(image, fmt))
    assert array.shape == (4, 6, 3) and array.dtype == np.uint8


def test_read_image_sixteen_bit_is_stretched_to_eight() -> None:
    values = np.linspace(0, 65535, 24, dtype=np.uint16).reshape(4, 6)
    array = read_image(_encode(Image.fromarray(values)))
    assert array[0, 0, 0] == 0 and array[-1, -1, 0] == 255


def test_read_image_transparency_is_flattened_onto_white() -> None:
    array = read_image(_encode(Image.new("RGBA", (3, 3), (255, 0, 0, 0))))
    assert array[0, 0].tolist() == [255, 255, 255]


def test_read_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    array = read_image(_encode(_gradient(6, 4), "JPEG", exif=exif.tobytes()))
    assert array.shape == (6, 4, 3)


def test_read_image_animation_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (5, 5), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    array = read_image(buffer.getvalue())
    assert array[2, 2, 0] > 200 and array[2, 2, 2] < 50


def test_read_image_refuses_empty_files() -> None:
    with pytest.raises(InvalidInputError, match="The image file is empty"):
        read_image(b"")


def test_read_image_refuses_large_files() -> None:
    with pytest.raises(InvalidInputError, match=r"the limit is 0 MB"):
        read_image(b"x" * 2000, max_bytes=1000)


def test_read_image_refuses_too_many_pixels_before_decoding() -> None:
    data = _encode(Image.new("L", (4000, 3000)))
    with pytest.raises(InvalidInputError, match=r"4000 x 3000 pixels \(12 MP\); the limit is 1 MP"):
        read_image(data, max_pixels=1_000_000)


def test_read_image_refuses_non_images() -> None:
    with pytest.raises(InvalidInputError, match="not an image this portal can read"):
        read_image(b"%PDF-1.4 not an image at all")


def test_read_image_refuses_truncated_files() -> None:
    data = _encode(_gradient(64, 64), "JPEG")
    with pytest.raises(InvalidInputError, match="could not be decoded"):
        read_image(data[: len(data) // 3])
