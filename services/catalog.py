"""The demo registry: the one list of the portal's demos. Everything else derives from it.

A demo is a unit of six files named by its slug: its page (app_pages/<slug>.py), its service
(services/<slug>.py), its training package (training/<slug>/, built by `python -m training <slug>`), its benchmark
(benchmarks/<slug>.py, run by `python -m benchmarks <slug>`), its tests (tests/<slug>/) and its README section.
Home's gallery and navigation, both command lines and the tests all read DEMOS; tests/test_demo_registry.py fails
when a demo lacks one of its parts.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import ModelUnavailableError

if TYPE_CHECKING:  # the registry (onnxruntime, numpy) is imported when a status is asked for, not with the catalog
    from services.registry import Registry

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Home's card pictures, made by `python -m training thumbnails` (training/thumbnails.py) from our models' outputs;
# index.json names the models each was made from. They live in static/, which Streamlit serves as files at
# app/static/ (server.enableStaticServing in .streamlit/config.toml): the browser fetches them without a script run.
THUMBNAILS_DIR = ROOT / "static" / "thumbnails"
THUMBNAILS_URL = "app/static/thumbnails"
THUMBNAIL_INDEX = "index.json"
# services.style.MODEL_KEY, written out so that Home's first paint does not import the style service (and pandas);
# tests/test_demo_registry.py checks that the two agree.
STYLE_MODEL_KEY = "style/paintings"


@dataclass(frozen=True)
class Demo:
    slug: str
    title: str
    section: str  # Tabular, Text or Vision
    summary: str
    model_keys: tuple[str, ...]
    headline: tuple[str, str, str]  # (model key, dotted metric path, label)
    icon: str = ":material/analytics:"
    plain: str = ""  # what the demo does, for a visitor who knows no machine learning (Home's card)

    @property
    def page(self) -> str:
        return f"app_pages/{self.slug}.py"

    @property
    def service_module(self) -> str:
        return f"services.{self.slug}"

    @property
    def training_module(self) -> str:
        """The module whose build() makes the demo's models (and add_arguments(), its own options, if any)."""
        return f"training.{self.slug}.build"

    @property
    def benchmark_module(self) -> str:
        return f"benchmarks.{self.slug}"

    @property
    def tests_dir(self) -> str:
        return f"tests/{self.slug}"

    @property
    def readme_heading(self) -> str:
        return f"## {self.title} (`{self.slug}`)"

    @property
    def thumbnail(self) -> Path:
        """The card's picture (a fixed file per slug, never a user-supplied path)."""
        return THUMBNAILS_DIR / f"{self.slug}.webp"

    @property
    def thumbnail_url(self) -> str:
        """Where the browser gets the picture (relative to the portal's root)."""
        return f"{THUMBNAILS_URL}/{self.slug}.webp"

    @property
    def rebuild(self) -> str:
        from services.registry import rebuild_command

        return rebuild_command(self.model_keys[0])


@dataclass(frozen=True)
class DemoStatus:
    demo: Demo
    ready: bool
    message: str
    headline: str | None  # e.g. "test RMSE $38,394"
    model: str | None = None  # the model card's one-line summary


DEMOS: tuple[Demo, ...] = (
    Demo(
        slug="housing",
        title="California housing prices",
        section="Tabular",
        summary="Estimate a California district's median house value, with an 80% prediction interval; "
        "one district by hand or a whole CSV.",
        model_keys=("housing/price",),
        headline=("housing/price", "test.rmse", "test RMSE ${:,.0f}"),
        icon=":material/home:",
        plain="Describe a neighbourhood; a model that learned from 20,000 Californian districts guesses its house "
        "prices.",
    ),
    Demo(
        slug="books",
        title="Book recommender",
        section="Tabular",
        summary="Pick and rate a few books you have read; get recommendations with covers and the reason for each, "
        "or browse similar titles. Collaborative filtering on Book-Crossing readers.",
        model_keys=("books/recommender", "books/similar"),
        headline=("books/recommender", "leave_one_out.implicit.ials.hr@10", "leave-one-out HR@10 {:.3f}"),
        icon=":material/menu_book:",
        plain="Tell it books you liked; it suggests others that readers with the same taste enjoyed.",
    ),
    Demo(
        slug="toxicity",
        title="Toxic-comment classifier",
        section="Text",
        summary="Is a comment offensive? Probabilities from two models (OLID, Davidson), an adjustable threshold, "
        "the words that drive the score, and batch scoring of a CSV.",
        model_keys=("toxicity/encoder", "toxicity/heads", "toxicity/encoder_int8"),
        headline=("toxicity/heads", "olid.macro_f1", "OLID test macro F1 {:.3f}"),
        icon=":material/comment:",
        plain="Paste a comment; it says how likely people would find it offensive, and which words weigh most.",
    ),
    Demo(
        slug="textgen",
        title="Character-level text generators",
        section="Text",
        summary="Character-level GRUs write Shakespeare-like text as you watch (temperature, top-k, top-p, seed) "
        "and invent dinosaur names, or find the likeliest ones by beam search.",
        model_keys=("textgen/shakespeare", "textgen/dinosaurs"),
        headline=("textgen/shakespeare", "validation_loss_nats", "validation loss {:.3f} nats/char"),
        icon=":material/history_edu:",
        plain="A network that only ever read Shakespeare (or dinosaur names) writes more of it, letter by letter.",
    ),
    Demo(
        slug="style",
        title="Neural style transfer",
        section="Vision",
        summary="Restyle a photo as one of eight paintings (Van Gogh, Hokusai, Munch, Kandinsky, Turner, Delaunay, "
        "Matisse, Picabia), or blend two: one fast network taught by VGG16, a strength slider, keep-your-colours, "
        "PNG download.",
        model_keys=(STYLE_MODEL_KEY,),
        headline=(STYLE_MODEL_KEY, "speed.onnx_ms", "512×512 in {:.0f} ms"),
        icon=":material/palette:",
        plain="Upload a photo; it comes back painted like a famous painting, in a fraction of a second.",
    ),
    Demo(
        slug="detection",
        title="Object detection",
        section="Vision",
        summary="Find people, cars, dogs, cats, cups and 30 more kinds of things, raccoons too, with a YOLO trained "
        "here (YOLOX-Nano labelled the photos nobody had), or YOLOX-Nano's 80 classes: confidence and overlap "
        "sliders, a class filter, counts, annotated PNG download.",
        model_keys=("detection/own_yolo",),
        headline=("detection/own_yolo", "coco_person_ap50", "COCO person AP@0.5 {:.3f}"),
        icon=":material/center_focus_strong:",
        plain="Upload a photo; boxes appear around the people, animals and things the model recognises.",
    ),
    Demo(
        slug="segmentation",
        title="Person segmentation",
        section="Vision",
        summary="A U-Net finds the people in a photo: highlight them, blur or replace the background, or cut them "
        "out as a transparent PNG.",
        model_keys=("segmentation/unet_person",),
        headline=("segmentation/unet_person", "held_out.coco_people.iou", "COCO people IoU {:.3f}"),
        icon=":material/person_pin:",
        plain="Upload a photo of people; the model outlines them so the background can be blurred or removed.",
    ),
)

SECTIONS = ("Tabular", "Text", "Vision")
SLUGS = tuple(demo.slug for demo in DEMOS)


def find(slug: str) -> Demo:
    """The demo with this slug; ValueError names the known ones."""
    for demo in DEMOS:
        if demo.slug == slug:
            return demo
    raise ValueError(f"unknown demo {slug!r}; choose one of {', '.join(SLUGS)}.")


def demo_status_guarded(demo: Demo, registry: Registry) -> DemoStatus:
    """demo_status, and whatever else goes wrong (a corrupt manifest entry, an onnxruntime error) reported as this
    demo's problem only: Home's other cards go on."""
    try:
        return demo_status(demo, registry)
    except Exception as err:
        log.exception("status of %s failed", demo.slug)
        return DemoStatus(demo, False, f"{type(err).__name__}: {err}", None)


@lru_cache(maxsize=1)
def _readme_sections(text: str) -> dict[str, str]:
    sections, heading, lines = {}, None, []
    for line in [*text.splitlines(), "## "]:
        if line.startswith("## "):
            if heading is not None:
                sections[heading] = "\n".join(lines).strip()
            heading, lines = line.strip(), []
        elif heading is not None:
            lines.append(line)
    return sections


def readme_section(demo: Demo) -> str:
    """The demo's README section (without its heading), or a note that says where it should be."""
    try:
        text = README.read_text(encoding="utf-8")
    except OSError:
        return f"README.md is missing from this deployment; see the section {demo.readme_heading[3:]!r} there."
    body = _readme_sections(text).get(demo.readme_heading)
    if body is None:
        return f"README.md has no section {demo.readme_heading[3:]!r}."
    # relative links and images point into the repository, which a visitor of the portal does not browse
    return re.sub(r"!\[[^\]]*\]\([^)]*\)", "", body)


def demo_status(demo: Demo, registry: Registry) -> DemoStatus:
    """Ready when every model of the demo verifies and loads; the headline metric from the manifest."""
    for key in demo.model_keys:
        status = registry.status(key)
        if not status.ready:
            return DemoStatus(demo, False, status.message, None)
    key, path, label = demo.headline
    try:
        entry = registry.entry(key)
        value = entry["metrics"]
        for part in path.split("."):
            value = value[part]
        headline = label.format(value)
    except (ModelUnavailableError, KeyError, TypeError, ValueError):
        return DemoStatus(demo, True, "ready", None)
    return DemoStatus(demo, True, "ready", headline, entry.get("card", {}).get("summary"))
