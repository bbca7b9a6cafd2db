"""The report's map of the regions: drawn in the turnout section, in every language; a refused map is said."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.graphics.shapes import Circle
from reportlab.graphics.shapes import Path as RlPath

from db.store import ElectionStore
from observer.i18n import tr
from observer.regionmap import COVERAGE, GAP, builtin_map
from observer.regions import region_name
from reports import charts
from reports.build import build_report
from tests.reports.test_report import hq  # noqa: F401 - the fixture: 50 stations in three regions


def _text(pdf: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(str(pdf)).pages).replace("\u00a0", " ")


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_the_report_draws_the_map_with_its_legends(hq: Path, tmp_path: Path, lang: str) -> None:  # noqa: F811
    out = tmp_path / f"report-{lang}.pdf"
    build_report(hq, out, lang)
    text = " ".join(_text(out).split())
    for key in ("report.turnout.map", "report.map.coverage", "report.map.gap"):
        assert tr(key, lang) in text, key
    # Turkistan region and Shymkent share one shape: the caption names both.
    assert f"{region_name('KZ-YUZ', lang)} + {region_name('KZ-SHY', lang)}" in text
    assert "Natural Earth" in text


def test_the_map_drawing_has_a_shape_per_region_and_a_marker_per_city() -> None:
    kz = builtin_map("kz")
    shapes, _missing = kz.for_units(c for s in kz.shapes for c in s.codes)
    panels = [
        charts.MapPanel("coverage", COVERAGE, {"KZ-AKM": (1.0, 2.0)}, lambda v: "-" if v is None else f"{v:.1f}"),
        charts.MapPanel("gap", GAP, {"KZ-AKM": (-3.0, 1.0)}, lambda v: "-" if v is None else f"{v:.1f}"),
    ]
    drawing = charts.choropleth(shapes, (kz.width, kz.height), panels, 480)
    paths = [c for c in drawing.contents if isinstance(c, RlPath)]
    circles = [c for c in drawing.contents if isinstance(c, Circle)]
    assert len(circles) == 2 * 2  # Astana and Almaty, on both panels
    assert len(paths) == 2 * (len(shapes) - 2)
    # The value is written on the shape, so a grey copy still reads.
    labels = [getattr(c, "text", "") for c in drawing.contents]
    assert "0.5" in labels and "-3.0" in labels


def test_a_refused_map_is_said_in_the_report(hq: Path, tmp_path: Path) -> None:  # noqa: F811
    store = ElectionStore.open(hq)
    text = store.meta("template_toml") or ""
    store.set_meta("template_toml", text.replace('file = "kz"  #', 'file = "regions.geojson"  #'))
    store.close()
    (hq.parent / "regions.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    out = tmp_path / "report.pdf"
    build_report(hq, out, "en")
    text = " ".join(_text(out).split())
    assert "regions.geojson" in text and tr("map.problem.no_features", "en") in text
