"""Region maps: a GeoJSON file of the template's units, read as untrusted input and projected.

A template names its map (``[map] file``): a map shipped with Baqylau (``kz``:
resources/maps/kz.geojson, Kazakhstan's regions from Natural Earth) or a GeoJSON file
of its own, relative to the template (for an HQ, which keeps the template's text but
not its folder: relative to the HQ file). Each feature names the units it draws in the
property ``code`` (one unit) or ``codes`` (several units drawn as one shape, when the
source predates their split: the map colours it by their combined figures and names
all of them). Only Polygon and MultiPolygon geometries, longitude/latitude in degrees.

The file comes from whoever wrote the template, so it is checked before anything is
drawn: its size, the JSON's depth, the number of features, rings and points, the
geometry types, and that every coordinate is a finite number within range. Whatever is
wrong is a :class:`MapError` saying what and where, in the reader's language.

The shapes are projected for drawing with an equirectangular projection whose
longitudes are shrunk by the cosine of the map's middle latitude (areas stay close to
true across a country), into a box whose longer side is 1, y growing downwards.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from observer.errors import BaqylauError
from observer.i18n import Msg

BUILTIN_MAPS: tuple[str, ...] = ("kz",)
MAP_SUFFIXES = (".geojson", ".json")
MAX_MAP_BYTES = 8 * 1024 * 1024  # a country's regions simplified for a screen are well under 1 MB
MAX_FEATURES = 5000
MAX_POINTS = 1_000_000  # all positions of all rings together
MAX_CODES = 50  # units one shape may stand for
MAX_CODE_CHARS = 200
MAX_DEPTH = 12  # FeatureCollection > features > Feature > geometry > polygons > rings > positions

Point = tuple[float, float]
Ring = tuple[Point, ...]
Polygon = tuple[Ring, ...]  # the outer ring, then the holes


class MapError(BaqylauError):
    """A map file is refused."""

    key = "error.map"


def _p(name: str, /, **params: object) -> Msg:
    return Msg("map.problem." + name, params)


@dataclass(frozen=True)
class MapShape:
    """One feature of the map: the units it stands for, and its polygons in the map's box."""

    codes: tuple[str, ...]
    polygons: tuple[Polygon, ...]

    @property
    def centre(self) -> Point:
        """The middle of the shape's largest polygon's bounding box (where a marker or a label goes)."""
        ring = max((p[0] for p in self.polygons), key=_box_area)
        xs, ys = [x for x, _ in ring], [y for _, y in ring]
        return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2

    def extent(self) -> float:
        """The longer side of the shape's bounding box, in the map's units (1 = the whole map)."""
        xs = [x for p in self.polygons for x, _ in p[0]]
        ys = [y for p in self.polygons for _, y in p[0]]
        return max(max(xs) - min(xs), max(ys) - min(ys))


@dataclass(frozen=True)
class RegionMap:
    """A map's shapes projected into a box ``width`` × ``height`` (the longer side 1)."""

    shapes: tuple[MapShape, ...]
    width: float
    height: float
    source: str = ""  # the file's own ``source`` / attribution, shown under the map

    def for_units(self, codes: Iterable[str]) -> tuple[tuple[MapShape, ...], tuple[str, ...]]:
        """The shapes that draw ``codes`` (each with only those of its codes asked for), and the
        codes the map has no shape for, in the order given: listed beside the map, never dropped."""
        wanted = list(dict.fromkeys(codes))
        folded = {c.upper(): c for c in wanted}
        shapes: list[MapShape] = []
        drawn: set[str] = set()
        for shape in self.shapes:
            mine = tuple(folded[c.upper()] for c in shape.codes if c.upper() in folded)
            if mine:
                shapes.append(MapShape(mine, shape.polygons))
                drawn.update(mine)
        return tuple(shapes), tuple(c for c in wanted if c not in drawn)


@cache
def builtin_map(name: str) -> RegionMap:
    """A map shipped in resources/maps (read through the same checks as anyone's)."""
    if name not in BUILTIN_MAPS:
        raise KeyError(name)
    raw = resources.files("resources.maps").joinpath(f"{name}.geojson").read_bytes()
    return parse_map(raw, f"{name}.geojson")


def map_path(name: str, base: Path | None) -> Path | None:
    """Where a template's ``[map] file`` is: None for a built-in map, else the path (relative to ``base``)."""
    if name in BUILTIN_MAPS:
        return None
    path = Path(name)
    return path if path.is_absolute() or base is None else base / path


def load_map(name: str, base: Path | None = None) -> RegionMap:
    """The map a template names: a built-in one, or a GeoJSON file relative to ``base``."""
    path = map_path(name, base)
    if path is None:
        return builtin_map(name)
    if path.suffix.lower() not in MAP_SUFFIXES:
        raise MapError("error.map.file", file=path.name, problem=_p("suffix", allowed=", ".join(MAP_SUFFIXES)))
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_MAP_BYTES + 1)
    except OSError as exc:
        raise MapError("error.map.unreadable", file=str(path), problem=exc.strerror or str(exc)) from None
    return parse_map(raw, path.name)


def template_map(map_file: str, hq_file: Path | None) -> RegionMap | None:
    """The map a template names, for an election file at ``hq_file`` (None: on a server): a relative
    path is taken from the HQ file's folder, as the HQ keeps the template's text but not its folder.
    None when the template names no map; MapError when the file is refused."""
    if not map_file:
        return None
    return load_map(map_file, hq_file.parent if hq_file is not None else None)


def parse_map(raw: bytes, origin: str = "<map>") -> RegionMap:
    """Check a GeoJSON FeatureCollection and project its shapes; raises MapError saying what is wrong."""

    def fail(problem: Msg, where: str = "") -> MapError:
        return (
            MapError("error.map.file", file=origin, problem=problem)
            if not where
            else MapError("error.map.at", file=origin, where=where, problem=problem)
        )

    if len(raw) > MAX_MAP_BYTES:
        raise fail(_p("too_big", limit=MAX_MAP_BYTES // (1024 * 1024)))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(_p("encoding")) from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise fail(_p("too_deep")) from None
    except ValueError:
        raise fail(_p("not_json")) from None
    if _depth(data) > MAX_DEPTH:
        raise fail(_p("too_deep"))
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise fail(_p("not_collection"))
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise fail(_p("no_features"))
    if len(features) > MAX_FEATURES:
        raise fail(_p("too_many_features", limit=MAX_FEATURES))
    budget = [MAX_POINTS]
    raw_shapes: list[tuple[tuple[str, ...], list[list[list[Point]]]]] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        where = f"features[{i + 1}]"
        codes = _codes(feature, where, fail)
        for code in codes:
            if code.upper() in seen:
                raise fail(_p("code_twice", value=code, other=seen[code.upper()]), where)
            seen[code.upper()] = i + 1
        raw_shapes.append((codes, _polygons(feature.get("geometry"), f"{where}.geometry", fail, budget)))
    source = data.get("source", "")
    return _project(raw_shapes, source.strip()[:200] if isinstance(source, str) else "")


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: not JSON, and not a coordinate


def _depth(value: Any) -> int:
    """How deeply lists and objects nest (iteratively: a hostile file must not exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, depth + 1) for c in children)
    return deepest


def _codes(feature: Any, where: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise fail(_p("not_feature"), where)
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise fail(_p("no_code"), where)
    value = props.get("codes", props.get("code"))
    values = value if isinstance(value, list) else [value]
    codes = tuple(v.strip() for v in values if isinstance(v, str) and v.strip())
    if not codes or len(codes) != len(values):
        raise fail(_p("no_code"), f"{where}.properties")
    if len(codes) > MAX_CODES or any(len(c) > MAX_CODE_CHARS for c in codes):
        raise fail(_p("too_many_codes", limit=MAX_CODES, chars=MAX_CODE_CHARS), f"{where}.properties")
    return codes


def _polygons(geometry: Any, where: str, fail: Any, budget: list[int]) -> list[list[list[Point]]]:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        raise fail(_p("bad_geometry", found=str(kind)[:40]), where)
    coords = geometry.get("coordinates")
    polys = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(polys, list) or not polys:
        raise fail(_p("bad_coordinates"), where)
    out: list[list[list[Point]]] = []
    for j, rings in enumerate(polys):
        if not isinstance(rings, list) or not rings:
            raise fail(_p("bad_coordinates"), f"{where}.coordinates[{j + 1}]")
        out.append([_ring(r, f"{where}.coordinates[{j + 1}][{k + 1}]", fail, budget) for k, r in enumerate(rings)])
    return out


def _ring(ring: Any, where: str, fail: Any, budget: list[int]) -> list[Point]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise fail(_p("short_ring"), where)
    budget[0] -= len(ring)
    if budget[0] < 0:
        raise fail(_p("too_many_points", limit=MAX_POINTS))
    points: list[Point] = []
    for n, pos in enumerate(ring):
        ok = (
            isinstance(pos, list)
            and len(pos) in (2, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)
        )
        if not ok:
            raise fail(_p("bad_position", n=n + 1), where)
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise fail(_p("out_of_range", n=n + 1), where)
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise fail(_p("open_ring"), where)
    return points


def _project(raw: Sequence[tuple[tuple[str, ...], list[list[list[Point]]]]], source: str) -> RegionMap:
    lons = [x for _c, polys in raw for rings in polys for x, _y in rings[0]]
    lats = [y for _c, polys in raw for rings in polys for _x, y in rings[0]]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    k = math.cos(math.radians((south + north) / 2))
    width, height = (east - west) * k, north - south
    scale = 1 / max(width, height, 1e-9)
    shapes = tuple(
        MapShape(
            codes,
            tuple(
                tuple(tuple(((x - west) * k * scale, (north - y) * scale) for x, y in ring) for ring in rings)
                for rings in polys
            ),
        )
        for codes, polys in raw
    )
    return RegionMap(shapes, width * scale, height * scale, source)


def _box_area(ring: Ring) -> float:
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


# ---- what the map shows ----------------------------------------------------------------------

COVERAGE = "coverage"  # stations reported / stations expected, 0..1
GAP = "gap"  # mean turnout gap of the stations with both turnouts, observed minus official, pp
MODES = (COVERAGE, GAP)
GAP_SCALE_PP = 10.0  # the diverging scale's ends at the least: a gap this large takes the darkest colour
Rgb = tuple[int, int, int]
NO_DATA: Rgb = (214, 214, 214)
_LOW: Rgb = (237, 248, 233)  # ColorBrewer "Greens", light end: nothing reported yet
_HIGH: Rgb = (0, 109, 44)  # every station reported
_MINUS: Rgb = (178, 24, 43)  # ColorBrewer "RdBu": official turnout above the observers'
_ZERO: Rgb = (247, 247, 247)
_PLUS: Rgb = (33, 102, 172)  # observers saw more voters than the official result says


def combined(values: Mapping[str, tuple[float, float]], codes: Iterable[str]) -> tuple[float, float] | None:
    """Sums of (part, whole) over the units a shape stands for; None when none of them has figures."""
    found = [values[c] for c in codes if c in values]
    if not found:
        return None
    return sum(p for p, _ in found), sum(w for _, w in found)


def shape_value(values: Mapping[str, tuple[float, float]], codes: Iterable[str]) -> float | None:
    """What a shape is coloured by: part / whole over its units (coverage as a fraction, or the mean gap)."""
    found = combined(values, codes)
    return found[0] / found[1] if found is not None and found[1] else None


def region_gaps(gaps: Iterable[tuple[str, float]]) -> dict[str, tuple[float, float]]:
    """(sum of gaps, stations) per region from (region, gap pp) pairs: shape_value makes the mean."""
    out: dict[str, tuple[float, float]] = {}
    for region, gap in gaps:
        total, n = out.get(region, (0.0, 0.0))
        out[region] = (total + gap, n + 1)
    return out


def _mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    t = min(max(t, 0.0), 1.0)
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


COVERAGE_TOPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)
GAP_TOPS = (GAP_SCALE_PP, 20.0, 25.0, 50.0, 100.0)


def scale_top(mode: str, values: Iterable[float | None]) -> float:
    """Where a scale ends. Coverage: the smallest round share at or above the best-covered region,
    so 3% against 1% reads as a difference on election night (observers reach a few percent of
    stations; a 0..100% scale would paint the whole country one pale shade). The gap: the smallest
    round number of points at or above the widest gap, GAP_SCALE_PP at the least (where official
    turnout is inflated everywhere by 20 points, a ±10 scale would paint every region one red)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if mode != COVERAGE:
        widest = max((abs(v) for v in finite), default=0.0)
        return next((t for t in GAP_TOPS if widest <= t + 1e-9), GAP_TOPS[-1])
    best = max(finite, default=1.0)
    return next((t for t in COVERAGE_TOPS if best <= t + 1e-12), 1.0)


def colour(mode: str, value: float | None, top: float | None = None) -> Rgb:
    """The fill of a shape: a sequential scale for coverage (0..top), a diverging one for the gap (±top pp)."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if mode == COVERAGE:
        return _mix(_LOW, _HIGH, value / (top or 1.0))
    t = value / (top or GAP_SCALE_PP)
    return _mix(_ZERO, _PLUS, t) if t >= 0 else _mix(_ZERO, _MINUS, -t)


def legend_stops(mode: str, top: float | None = None) -> tuple[float, ...]:
    """The values a legend labels, low to high (coverage as fractions, the gap in pp)."""
    if mode == COVERAGE:
        return (0.0, (top or 1.0) / 2, top or 1.0)
    end = top or GAP_SCALE_PP
    return (-end, 0.0, end)
