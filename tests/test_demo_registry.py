"""The demo registry (services/catalog.py) is the one list of demos: every demo has all its parts, and nothing
lists a demo the registry does not know."""

from __future__ import annotations

import importlib.util
import re

import pytest

from benchmarks.__main__ import EXTRA
from benchmarks.__main__ import main as benchmarks_main
from services.catalog import DEMOS, SECTIONS, SLUGS, Demo, find
from services.settings import ROOT
from training.__main__ import main as training_main

# The least a demo's test folder holds: the page's AppTest. The seven demos here also have test_service.py,
# test_training.py and test_benchmark.py (README, "Adding a demo").
TEST_FILES = ("__init__.py", "test_app.py")


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _missing_parts(demo: Demo) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = {
        demo.page: (ROOT / demo.page).is_file(),
        demo.service_module: _module_exists(demo.service_module),
        demo.training_module: _module_exists(demo.training_module),
        demo.benchmark_module: _module_exists(demo.benchmark_module),
        f"README heading {demo.readme_heading!r}": demo.readme_heading in readme.splitlines(),
        **{f"{demo.tests_dir}/{name}": (ROOT / demo.tests_dir / name).is_file() for name in TEST_FILES},
    }
    return [part for part, present in parts.items() if not present]


@pytest.mark.parametrize("demo", DEMOS, ids=SLUGS)
def test_registry_demo_has_every_part(demo: Demo) -> None:
    assert _missing_parts(demo) == []


def test_registry_demo_build_and_benchmark_entry_points_are_callable() -> None:
    for demo in DEMOS:
        assert callable(importlib.import_module(demo.benchmark_module).run), demo.slug
        spec = importlib.util.find_spec(demo.training_module)
        source = spec.loader.get_source(demo.training_module)
        assert re.search(r"^def build\(", source, re.M), demo.slug


def test_registry_slugs_are_unique_and_sections_known() -> None:
    assert len(set(SLUGS)) == len(SLUGS)
    assert {demo.section for demo in DEMOS} <= set(SECTIONS)


def test_registry_no_page_service_or_training_package_outside_it() -> None:
    pages = {p.stem for p in (ROOT / "app_pages").glob("*.py")}
    packages = {p.parent.name for p in (ROOT / "training").glob("*/build.py")}
    benchmarks = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} - {"__init__", "__main__", "common", "onnx_torch"}
    test_dirs = {p.parent.name for p in (ROOT / "tests").glob("*/__init__.py")}
    assert pages == set(SLUGS)
    assert packages == set(SLUGS)
    assert benchmarks - {*EXTRA, "trivial_page", "locustfile"} == set(SLUGS)  # portal-wide ones and their helpers
    assert test_dirs == set(SLUGS)


def test_registry_find_names_the_known_demos() -> None:
    assert find("housing").title == "California housing prices"
    with pytest.raises(ValueError, match="unknown demo 'nope'; choose one of housing, books"):
        find("nope")


def test_registry_command_lines_offer_exactly_its_demos(capsys: pytest.CaptureFixture[str]) -> None:
    for main in (training_main, benchmarks_main):
        with pytest.raises(SystemExit):
            main(["--help"])
        usage = capsys.readouterr().out
        assert "{" + ",".join(SLUGS) in usage


def test_registry_demo_options_belong_to_their_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        training_main(["housing", "--loss-net", "vgg16"])
    assert "unrecognized arguments: --loss-net vgg16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        training_main(["style", "--help"])
    assert "--loss-net {hed,vgg16}" in capsys.readouterr().out


def test_registry_style_key_is_the_style_services_own() -> None:
    from services import catalog, style

    assert catalog.STYLE_MODEL_KEY == style.MODEL_KEY


def test_registry_home_does_not_import_the_heavy_services() -> None:
    """Home's first paint imports the catalog: it must not pull in pandas through a demo's service."""
    import subprocess
    import sys

    code = "import sys, services.catalog; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
