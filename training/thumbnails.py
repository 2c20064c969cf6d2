"""`python -m training thumbnails`: the picture on each Home card, made from our own models' outputs.

Each picture shows what its demo does, on inputs bundled with the portal (the sample photos in assets/samples, fixed
texts, a fixed seed), through the same services the pages call: a stylised photo, detection boxes, a blurred
background, a housing price chart, a row of recommended books, toxicity score bars and a generated Shakespeare
passage. They are written as WebP (at most MAX_BYTES each) to static/thumbnails/, with index.json naming, per
picture, the sha256 of every model it was made from: tests/test_thumbnails.py fails when a model changed and its
picture was not made again (rerun this command after `python -m training <demo>`).
"""

from __future__ import annotations

import io
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from services.catalog import DEMOS, THUMBNAIL_INDEX, THUMBNAILS_DIR, Demo
from services.registry import Registry
from services.samples import load_sample
from services.settings import parse_providers

log = logging.getLogger(__name__)

SIZE = (480, 300)  # width, height: a card's picture (16:10)
MAX_BYTES = 60_000
QUALITY = (80, 70, 60, 50)  # WebP qualities tried in turn until the file fits MAX_BYTES
INK, PAPER, MUTED = (33, 37, 41), (250, 250, 248), (120, 124, 130)


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font (no system fonts needed, so any machine draws the same letters)."""
    return ImageFont.load_default(size=size)


def contain(image: np.ndarray, size: tuple[int, int] = SIZE) -> Image.Image:
    """The whole image inside `size`, on a darkened, blurred enlargement of itself (nothing cut off)."""
    pil = Image.fromarray(image)
    back = cover_crop(pil, size).filter(ImageFilter.GaussianBlur(12))
    back = Image.eval(back, lambda v: v // 2)
    scale = min(size[0] / pil.width, size[1] / pil.height)
    fitted = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.Resampling.LANCZOS)
    back.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return back


def cover_crop(image: np.ndarray | Image.Image, size: tuple[int, int] = SIZE, focus: float = 0.5) -> Image.Image:
    """Scale the image to cover `size` and crop the rest; `focus` places the crop along the long axis (0: start)."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    scale = max(size[0] / pil.width, size[1] / pil.height)
    resized = pil.resize((max(size[0], round(pil.width * scale)), max(size[1], round(pil.height * scale))),
                         Image.Resampling.LANCZOS)  # fmt: skip
    left = round((resized.width - size[0]) * focus)
    top = round((resized.height - size[1]) * focus)
    return resized.crop((left, top, left + size[0], top + size[1]))


# ---- one picture per demo --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    image: Image.Image
    made_from: str  # what the picture shows, in words (index.json and the image's alt text)


def style_picture(registry: Registry) -> Picture:
    """The astronaut photo, its left third as taken and the rest as The Starry Night."""
    from services import style

    photo = load_sample("astronaut")
    out = style.stylize(photo, "starry_night", max_side=512, registry=registry).image
    canvas = cover_crop(out, focus=0.3)
    original = cover_crop(photo, focus=0.3)
    cut = SIZE[0] // 3
    canvas.paste(original.crop((0, 0, cut, SIZE[1])), (0, 0))
    ImageDraw.Draw(canvas).line([(cut, 0), (cut, SIZE[1])], fill=(255, 255, 255), width=3)
    return Picture(canvas, "the astronaut sample, its right two thirds restyled as The Starry Night")


DETECTION_CONFIDENCE = 0.9  # the page's slider goes this high; at 0.5 a second, looser box on her overlaps the first


def detection_picture(registry: Registry) -> Picture:
    from services import detection

    photo = load_sample("astronaut")
    found = detection.detect(photo, confidence=DETECTION_CONFIDENCE, registry=registry)
    names = sorted({found.names[c] for c in found.classes})
    # boxes drawn at the picture's own scale, so that their lines and tags stay readable on the card
    scale = min(SIZE[0] / photo.shape[1], SIZE[1] / photo.shape[0])
    small = np.asarray(Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                                                     Image.Resampling.LANCZOS))  # fmt: skip
    found_small = replace(found, boxes=found.boxes * scale)
    return Picture(
        contain(detection.annotate(small, found_small)),
        f"our YOLO's boxes (confidence >= {DETECTION_CONFIDENCE}) on the astronaut sample: "
        f"{', '.join(names) or 'nothing found'}",
    )


def segmentation_picture(registry: Registry) -> Picture:
    from services import segmentation

    photo = load_sample("astronaut")
    seg = segmentation.segment(photo, registry=registry)
    out = segmentation.apply_effect(photo, seg, "blur", blur_radius=18.0)
    return Picture(cover_crop(out, focus=0.3), "the astronaut sample with the background blurred by the U-Net's mask")


def housing_picture(registry: Registry) -> Picture:
    """Predicted value and 80% interval against median income for a Los Angeles district (other columns at the
    training set's medians)."""
    from services import housing

    stats = registry.sidecar(housing.MODEL_KEY, "stats")
    lat, lon, ocean = housing.PLACES["Los Angeles"]
    incomes = np.linspace(1.0, 12.0, 45)
    row = {name: column["median"] for name, column in stats["columns"].items()}
    frame = pd.DataFrame([{**row, "latitude": lat, "longitude": lon, "ocean_proximity": ocean, "median_income": x}
                          for x in incomes])  # fmt: skip
    frame = frame[[*housing.NUMERIC_COLUMNS, "ocean_proximity"]]
    pred = housing.predict(frame, registry=registry)
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 62, SIZE[0] - 16, 44, SIZE[1] - 40
    y_max = 520_000.0

    def at(income: float, value: float) -> tuple[float, float]:
        x = left + (income - incomes[0]) / (incomes[-1] - incomes[0]) * (right - left)
        return x, bottom - value / y_max * (bottom - top)

    for value in (100_000, 200_000, 300_000, 400_000, 500_000):
        y = at(incomes[0], value)[1]
        draw.line([(left, y), (right, y)], fill=(226, 228, 232))
        draw.text((left - 6, y), f"${value // 1000}k", fill=MUTED, font=font(12), anchor="rm")
    band = [at(x, v) for x, v in zip(incomes, pred.upper, strict=True)]
    band += [at(x, v) for x, v in zip(incomes[::-1], pred.lower[::-1], strict=True)]
    draw.polygon(band, fill=(190, 215, 240))
    draw.line([at(x, v) for x, v in zip(incomes, pred.price, strict=True)], fill=(31, 99, 178), width=4)
    for income in (2, 4, 6, 8, 10, 12):
        draw.text((at(income, 0)[0], bottom + 6), f"{income}", fill=MUTED, font=font(12), anchor="mt")
    draw.text((left, 12), "Los Angeles district: value vs income", fill=INK, font=font(17))
    draw.text(((left + right) / 2, SIZE[1] - 6), "median income (tens of thousands of $)", fill=MUTED,
              font=font(12), anchor="mb")  # fmt: skip
    return Picture(image, "our model's price and 80% interval for a Los Angeles district as its income changes")


BOOKS_READ = {"The Da Vinci Code": 10, "Life of Pi": 9}  # a reader's ratings, 1-10


def _cover(title: str, author: str, size: tuple[int, int]) -> Image.Image:
    """The page's cover placeholder: a gradient from the title's hue, the title in white."""
    hue = zlib.crc32(title.encode()) % 360
    top = Image.new("HSV", (1, 1), (round(hue / 360 * 255), 115, 97)).convert("RGB").getpixel((0, 0))
    low = Image.new("HSV", (1, 1), (round((hue + 40) % 360 / 360 * 255), 102, 56)).convert("RGB").getpixel((0, 0))
    ramp = np.linspace(0.0, 1.0, size[1])[:, None, None]
    pixels = np.asarray(top, float) * (1 - ramp) + np.asarray(low, float) * ramp
    cover = Image.fromarray(np.repeat(pixels, size[0], axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(cover)
    words, lines = title.split(" (")[0].split(), [""]
    for word in words:  # wrap the title to the cover's width
        trial = f"{lines[-1]} {word}".strip()
        if draw.textlength(trial, font=font(14)) > size[0] - 14 and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = trial
    y = size[1] * 0.22
    for line in lines[:6]:
        draw.text((size[0] / 2, y), line, fill=(255, 255, 255), font=font(14), anchor="mt")
        y += 18
    draw.text((size[0] / 2, size[1] - 12), author[:22], fill=(235, 235, 235), font=font(11), anchor="mb")
    return cover


def books_picture(registry: Registry) -> Picture:
    from services import books

    catalog = books.catalog(registry=registry)
    read = {title: rating for title, rating in BOOKS_READ.items() if title in catalog.by_title}
    ranked = books.recommend(read, top_k=4, registry=registry) if read else None
    picks = [item.book for item in ranked.items] if ranked else list(books.popular(top_k=4, registry=registry))
    image = Image.new("RGB", SIZE, PAPER)
    width, height, gap = 104, 156, 14
    x = (SIZE[0] - 4 * width - 3 * gap) // 2
    for book in picks:
        image.paste(_cover(book.title, book.author, (width, height)), (x, 64))
        x += width + gap
    draw = ImageDraw.Draw(image)
    liked = " and ".join(read) or "nothing yet (the most read books)"
    draw.text((SIZE[0] / 2, 18), f"Because you liked {liked}", fill=INK, font=font(17), anchor="mt")
    draw.text((SIZE[0] / 2, 64 + height + 16), "recommended for you", fill=MUTED, font=font(13), anchor="mt")
    return Picture(image, f"the books our recommender picks for a reader who liked {liked}")


TOXICITY_TEXTS = (
    "Thanks, that was a really helpful answer!",
    "I disagree, but I see your point.",
    "Shut up, you pathetic idiot.",
)


def toxicity_picture(registry: Registry) -> Picture:
    from services import toxicity

    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((20, 16), "Is it offensive?", fill=INK, font=font(19))
    y, scores = 62, []
    for text in TOXICITY_TEXTS:
        score = toxicity.classify(text, registry=registry).score
        scores.append(score)
        draw.text((20, y), f"\u201c{text}\u201d", fill=INK, font=font(15))
        draw.rounded_rectangle([20, y + 26, SIZE[0] - 80, y + 42], radius=6, fill=(230, 232, 236))
        colour = (214, 64, 69) if score >= 0.5 else (46, 160, 67)
        end = 20 + max(12.0, score * (SIZE[0] - 100))
        draw.rounded_rectangle([20, y + 26, end, y + 42], radius=6, fill=colour)
        draw.text((SIZE[0] - 20, y + 34), f"{score:.0%}", fill=INK, font=font(15), anchor="rm")
        y += 76
    summary = ", ".join(f"{s:.0%}" for s in scores)
    return Picture(image, f"the classifier's toxicity scores for three comments ({summary})")


def textgen_picture(registry: Registry) -> Picture:
    from services import textgen

    text = textgen.generate("ROMEO:\n", max_new_tokens=260, temperature=0.7, seed=7, registry=registry)
    lines = ("ROMEO:\n" + text).splitlines()
    image = Image.new("RGB", SIZE, (253, 249, 240))
    draw = ImageDraw.Draw(image)
    y = 16
    for line in lines:
        if y > SIZE[1] - 28:
            break
        shown = line
        while shown and draw.textlength(shown, font=font(16)) > SIZE[0] - 36:
            shown = shown[:-1]
        draw.text((18, y), shown, fill=(70, 45, 25) if line.isupper() else INK, font=font(16))
        y += 22
    draw.text((SIZE[0] - 12, SIZE[1] - 8), "written one character at a time", fill=MUTED, font=font(12), anchor="rb")
    return Picture(image, "Shakespeare-like text our character-level GRU wrote after \u201cROMEO:\u201d (seed 7)")


PICTURES: dict[str, Callable[[Registry], Picture]] = {
    "housing": housing_picture,
    "books": books_picture,
    "toxicity": toxicity_picture,
    "textgen": textgen_picture,
    "style": style_picture,
    "detection": detection_picture,
    "segmentation": segmentation_picture,
}


def encode(image: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """WebP at the best quality in QUALITY that fits max_bytes."""
    for quality in QUALITY:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "WEBP", quality=quality, method=6)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise ValueError(f"a {image.size} picture does not fit {max_bytes} bytes even at WebP quality {QUALITY[-1]}")


def model_digests(registry: Registry, demo: Demo) -> dict[str, str]:
    return {key: registry.entry(key)["sha256"] for key in demo.model_keys}


def build(models_dir: Path, out_dir: Path = THUMBNAILS_DIR, providers: str = "cpu") -> dict:
    """Make every demo's picture with the models in models_dir; write them and index.json to out_dir."""
    registry = Registry(models_dir, parse_providers(providers))
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {}
    for demo in DEMOS:
        picture = PICTURES[demo.slug](registry)
        data = encode(picture.image)
        (out_dir / f"{demo.slug}.webp").write_bytes(data)
        index[demo.slug] = {
            "file": f"{demo.slug}.webp",
            "bytes": len(data),
            "made_from": picture.made_from,
            "models": model_digests(registry, demo),
        }
        log.info("%s: %d bytes, %s", demo.slug, len(data), picture.made_from)
    (out_dir / THUMBNAIL_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index
