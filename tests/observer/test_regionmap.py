"""Region maps: the bundled Kazakh map covers every unit, and a hostile GeoJSON is refused in words."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from observer import regionmap
from observer.i18n import tr
from observer.regionmap import (
    COVERAGE,
    GAP,
    MapError,
    builtin_map,
    colour,
    load_map,
    parse_map,
    region_gaps,
    scale_top,
    shape_value,
)
from observer.template import BUILTIN_TEMPLATES, TemplateError, builtin_template, load_template, parse_template
from observer.units import builtin_units

SQUARE = [[[70.0, 40.0], [72.0, 40.0], [72.0, 42.0], [70.0, 42.0], [70.0, 40.0]]]


def _collection(*features: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _feature(code: object = "A", geometry: object = None) -> dict[str, object]:
    geometry = geometry if geometry is not None else {"type": "Polygon", "coordinates": SQUARE}
    return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}


def test_the_bundled_map_is_small_and_every_unit_of_every_builtin_template_has_a_shape() -> None:
    raw = resources.files("resources.maps").joinpath("kz.geojson").read_bytes()
    assert len(raw) < 200 * 1024  # simplified: ~60 KB
    kz = builtin_map("kz")
    units = builtin_units("kz")
    codes = [c for s in kz.shapes for c in s.codes]
    assert sorted(codes) == sorted(u.code for u in units.units)  # each unit in exactly one feature
    for name in BUILTIN_TEMPLATES:
        template = builtin_template(name)
        assert template.map_file == "kz"
        assert template.units is not None
        shapes, missing = kz.for_units(u.code for u in template.units.on(template.date))
        assert missing == (), name
        assert sum(len(s.codes) for s in shapes) == len(template.units.on(template.date))
    # Natural Earth predates the 2018 and 2022 splits: those units share their parent's shape, said so.
    president_2022 = builtin_template("kz-president-2022")
    assert president_2022.units is not None
    shapes, _ = kz.for_units(u.code for u in president_2022.units.on(president_2022.date))
    shared = sorted(s.codes for s in shapes if len(s.codes) > 1)
    assert shared == [("KZ-ALM", "KZ-33"), ("KZ-KAR", "KZ-62"), ("KZ-VOS", "KZ-10"), ("KZ-YUZ", "KZ-SHY")]
    assert len(shapes) == 16


def test_projection_fits_a_unit_box_wider_than_tall() -> None:
    kz = builtin_map("kz")
    assert kz.width == pytest.approx(1.0) and 0.4 < kz.height < 0.7
    for shape in kz.shapes:
        for polygon in shape.polygons:
            for x, y in polygon[0]:
                assert -1e-9 <= x <= kz.width + 1e-9 and -1e-9 <= y <= kz.height + 1e-9
    # North is up: Petropavl's region (north) above Shymkent's (south).
    by_code = {c: s for s in kz.shapes for c in s.codes}
    assert by_code["KZ-SEV"].centre[1] < by_code["KZ-SHY"].centre[1]


def test_units_without_a_shape_are_listed_in_order() -> None:
    m = parse_map(_collection(_feature("A")))
    shapes, missing = m.for_units(["B", "a", "C"])
    assert [s.codes for s in shapes] == [("a",)]  # codes compare case-insensitively, kept as asked
    assert missing == ("B", "C")


HOSTILE: list[tuple[str, bytes, str]] = [
    ("not utf-8", b"\xff\xfe{", "map.problem.encoding"),
    ("not json", b"{features: ", "map.problem.not_json"),
    ("nan", b'{"type": "FeatureCollection", "features": [NaN]}', "map.problem.not_json"),
    ("deep", b"[" * 50 + b"]" * 50, "map.problem.too_deep"),
    ("deeper than the parser goes", b"[" * 100_000 + b"]" * 100_000, "map.problem.too_deep"),
    ("not a collection", json.dumps({"type": "Feature"}).encode(), "map.problem.not_collection"),
    ("no features", _collection(), "map.problem.no_features"),
    ("point", _collection(_feature(geometry={"type": "Point", "coordinates": [1, 2]})), "map.problem.bad_geometry"),
    ("no code", _collection(_feature(code=None)), "map.problem.no_code"),
    ("code not text", _collection(_feature(code=[1])), "map.problem.no_code"),
    ("code twice", _collection(_feature("A"), _feature("a")), "map.problem.code_twice"),
    (
        "latitude out of range",
        _collection(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 0], [0, 0]]]})),
        "map.problem.out_of_range",
    ),
    (
        "infinite",
        _collection(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 0]]]})).replace(
            b"[1, 1]", b"[1e999, 1]"
        ),
        "map.problem.out_of_range",
    ),
    (
        "boolean coordinate",
        _collection(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [True, 1], [1, 0], [0, 0]]]})),
        "map.problem.bad_position",
    ),
    (
        "open ring",
        _collection(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1]]]})),
        "map.problem.open_ring",
    ),
    (
        "short ring",
        _collection(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]})),
        "map.problem.short_ring",
    ),
    (
        "rings not lists",
        _collection(_feature(geometry={"type": "MultiPolygon", "coordinates": [5]})),
        "map.problem.bad_coordinates",
    ),
]


@pytest.mark.parametrize(("raw", "problem"), [(r, p) for _n, r, p in HOSTILE], ids=[n for n, _r, _p in HOSTILE])
def test_hostile_maps_are_refused_saying_what_is_wrong(raw: bytes, problem: str) -> None:
    with pytest.raises(MapError) as caught:
        parse_map(raw, "evil.geojson")
    assert caught.value.params["problem"].key == problem  # type: ignore[attr-defined]
    for lang in ("ru", "kk", "en"):
        text = caught.value.message(lang)
        assert "evil.geojson" in text and "map.problem" not in text and "error.map" not in text


def test_size_and_point_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regionmap, "MAX_MAP_BYTES", 100)
    with pytest.raises(MapError) as caught:
        parse_map(_collection(_feature()), "big.geojson")
    assert caught.value.params["problem"].key == "map.problem.too_big"  # type: ignore[attr-defined]
    monkeypatch.setattr(regionmap, "MAX_MAP_BYTES", 10_000)
    monkeypatch.setattr(regionmap, "MAX_POINTS", 8)
    with pytest.raises(MapError) as caught:
        parse_map(_collection(_feature("A"), _feature("B")), "many.geojson")
    assert caught.value.params["problem"].key == "map.problem.too_many_points"  # type: ignore[attr-defined]


def test_a_templates_own_map_is_read_relative_to_the_template(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "regions.geojson").write_bytes(_collection(_feature(["A", "B"])))
    text = builtin_template("kz-majilis-2021").source_text.replace('file = "kz"  #', 'file = "maps/regions.geojson"  #')
    path = tmp_path / "my.toml"
    path.write_text(text, encoding="utf-8")
    template = load_template(path)
    assert template.map_file == "maps/regions.geojson"
    m = load_map(template.map_file, tmp_path)
    assert [s.codes for s in m.shapes] == [("A", "B")]
    with pytest.raises(MapError) as caught:
        load_map("maps/absent.geojson", tmp_path)
    assert caught.value.key == "error.map.unreadable"
    with pytest.raises(MapError):
        load_map("my.toml", tmp_path)  # not a map's suffix: never read


def test_template_map_section_is_checked() -> None:
    base = builtin_template("kz-majilis-2021").source_text
    assert parse_template(base.replace('[map]\nfile = "kz"', "")).map_file == "kz"  # Kazakh: the bundled map
    foreign = base.replace('country = "KZ"', 'country = "RU"').replace('[map]\nfile = "kz"', "")
    assert parse_template(foreign).map_file == ""
    with pytest.raises(TemplateError) as caught:
        parse_template(base.replace('file = "kz"  #', 'file = "/etc/passwd"  #'))
    assert "/etc/passwd" in caught.value.message("en")
    with pytest.raises(TemplateError) as caught:
        parse_template(base.replace('[map]\nfile = "kz"', '[map]\nfile = "kz"\nzoom = 3'))
    assert tr("template.problem.unknown_map_key", "ru", key="zoom") in caught.value.message("ru")


def test_scales_and_combined_figures() -> None:
    assert colour(COVERAGE, 0.0) != colour(COVERAGE, 1.0)
    assert sum(colour(COVERAGE, 1.0)) < sum(colour(COVERAGE, 0.2))  # more coverage, darker
    red, blue = colour(GAP, -4.0), colour(GAP, 4.0)
    assert red[0] > red[2] and blue[2] > blue[0]  # official above observed: red; below: blue
    assert colour(GAP, -50.0) == colour(GAP, -regionmap.GAP_SCALE_PP)  # clamped at the scale's end
    assert colour(COVERAGE, None) == regionmap.NO_DATA
    # Coverage's scale ends at a round share above the best region: 3% against 1% must show.
    assert scale_top(COVERAGE, [0.01, 0.03, None]) == 0.05 and scale_top(COVERAGE, []) == 1.0
    assert (
        colour(COVERAGE, 0.05, 0.05) == colour(COVERAGE, 1.0) and scale_top(GAP, [3.0, None]) == regionmap.GAP_SCALE_PP
    )
    assert scale_top(GAP, [-21.5, -18.0, 4.0]) == 25.0 and colour(GAP, -21.5, 25.0) != colour(GAP, -18.0, 25.0)
    gaps = region_gaps([("A", -2.0), ("A", -4.0), ("B", 1.0)])
    assert shape_value(gaps, ("A",)) == pytest.approx(-3.0)
    assert shape_value(gaps, ("A", "B")) == pytest.approx(-5.0 / 3)  # a shared shape: all its stations
    assert shape_value({"A": (3.0, 0.0)}, ("A",)) is None and shape_value({}, ("A",)) is None
