"""The documentation builds warning-free, and its generated pages cover every registered law and data set."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx", reason="sphinx is not installed: pip install -e '.[docs]' to build the docs")
    pytest.importorskip("myst_parser", reason="myst-parser is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("docs_html")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"sphinx-build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return out


def _sections(page: Path) -> dict[str, str]:
    """Section id -> the HTML of that section (up to the next section start)."""
    text = page.read_text(encoding="utf-8")
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<section id="([^"]+)"', text)]
    bounds = starts[1:] + [(len(text), None)]
    return {sid: text[a:b] for (a, sid), (b, _) in zip(starts, bounds, strict=True)}


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _section_id(label: str) -> str:
    from docutils.nodes import make_id

    return make_id(label)


@pytest.mark.slow
def test_docs_build_without_warnings(built_docs):
    for page in ("index", "getting_started", "laws", "data", "api"):
        assert (built_docs / f"{page}.html").is_file(), f"{page}.html was not built"


@pytest.mark.slow
def test_law_catalogue_lists_every_registered_law(built_docs):
    import bayescale as bs

    sections = _sections(built_docs / "laws.html")
    for name in bs.laws():
        law = bs.get_law(name)
        sid = _section_id(f"law-{name}")
        assert sid in sections, f"law {name!r} has no section in the catalogue page (looked for id {sid!r})"
        body = _text(sections[sid])
        assert name in body
        for field in (law.target, law.reference, *law.inputs.values()):
            assert field in body, f"law {name!r}: {field!r} missing from its catalogue entry"
        for p, prior in law.params.items():
            assert re.search(rf"\b{re.escape(p)}\b\s*{type(prior).__name__}\(", body), (
                f"law {name!r}: parameter {p!r} with its {type(prior).__name__} prior missing from its entry"
            )


@pytest.mark.slow
def test_data_page_lists_every_data_set(built_docs):
    from bayescale import datasets

    sections = _sections(built_docs / "data.html")
    for name in datasets.names():
        sid = _section_id(f"dataset-{name}")
        assert sid in sections, f"data set {name!r} has no section in the data page (looked for id {sid!r})"
        body = _text(sections[sid])
        rec = datasets.info(name)
        assert rec.commit in body and rec.url in body
        for table in rec.tables:
            assert table in body


@pytest.mark.slow
def test_api_reference_documents_the_public_api(built_docs):
    text = _text((built_docs / "api.html").read_text(encoding="utf-8"))
    for obj in (
        "bayescale.fit(",
        "class bayescale.Fit(",
        "bayescale.load(",
        "class bayescale.Law(",
        "bayescale.laws(",
        "bayescale.get_law(",
        "bayescale.register(",
        "bayescale.validate_runs(",
        "bayescale.simulate_ladder(",
        "bayescale.datasets.load(",
        "bayescale.datasets.info(",
        "bayescale.datasets.names(",
        "bayescale.check.check(",
        "bayescale.compare(",
        "bayescale.backtest(",
        "bayescale.classical.huber_fit(",
    ):
        assert obj in text, f"{obj!r} missing from the API reference"
