"""The aggregate's output formats: a terminal table, flat CSV/XLSX columns, JSON objects.

What ``baqylau aggregate`` (and ``gaps``, ``violations``) print or write, field by
field as docs/aggregate.md documents them, apart from the command that reads the
HQ file (:mod:`db.cli_coordinator`). Every cell from a file or a package is made
terminal- or spreadsheet-safe here, where it is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from observer.aggregate import Totals, UnitResult
from observer.fmt import formatter
from observer.i18n import tr
from observer.regions import region_name
from observer.safe_text import spreadsheet, terminal
from observer.template import ElectionTemplate, Party


def unit_label(u: UnitResult, template: ElectionTemplate | None = None) -> str:
    """The unit in words: the country (the template's own name for it), a region's name, or "region / district"."""
    if u.level == "national":
        return template.national_name() if template is not None else tr("coord.unit.national")
    region = region_name(u.region) if u.region else tr("coord.unit.no_region")
    if u.level == "region":
        return region
    return f"{region} / {u.district or '—'}"


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _totals_json(t: Totals | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "stations": t.stations,
        "registered": t.registered,
        "lines": dict(t.lines),
        "parties": dict(t.parties),
        "turnout_pct": _r(t.turnout_pct),
        "invalid_pct": _r(t.invalid_pct),
        "party_pct": {k: _r(v) for k, v in t.party_pct.items()},
        "passes_threshold": dict(t.passes_threshold),
    }


def unit_json(u: UnitResult, source: str, rules: str, template: ElectionTemplate | None = None) -> dict[str, Any]:
    """One unit as documented in docs/aggregate.md."""
    head: dict[str, Any] = {
        "unit": u.unit,
        "name": unit_label(u, template),
        "level": u.level,
        "region": u.region,
        "district": u.district,
        "source": source,
        "rules": rules,
    }
    if source != "both":
        t = u.official if source == "official" else u.observed
        body = _totals_json(t)
        assert body is not None
        return {**head, **body}
    assert u.observed is not None and u.official is not None and u.official_all is not None and u.comparison is not None
    sides = {"observed": u.observed, "official": u.official, "official_all": u.official_all}
    c = u.comparison
    parties = list(u.observed.party_pct)

    def pair(get: Callable[[Totals], Any]) -> dict[str, Any]:
        return {name: get(t) for name, t in sides.items()}

    return {
        **head,
        "stations": {**pair(lambda t: t.stations), "total": c.stations_total},
        "registered": {**pair(lambda t: t.registered), "total": c.registered_total},
        "lines": pair(lambda t: dict(t.lines)),
        "parties": pair(lambda t: dict(t.parties)),
        "turnout_pct": {
            **pair(lambda t: _r(t.turnout_pct)),
            "diff_pp": _r(c.diff_pp["turnout"]),
            "headcount": _r(c.headcount_turnout_pct),
            "announced": _r(c.announced_turnout_pct),
        },
        "invalid_pct": {**pair(lambda t: _r(t.invalid_pct)), "diff_pp": _r(c.diff_pp["invalid"])},
        "party_pct": {key: {**pair(_share_of(key)), "diff_pp": _r(c.diff_pp[key])} for key in parties},
        "passes_threshold": pair(lambda t: dict(t.passes_threshold)),
        "coverage": {
            "stations_observed": c.stations_observed,
            "stations_counted": c.stations_counted,
            "stations_total": c.stations_total,
            "stations_pct": _r(c.coverage_stations_pct),
            "registered_counted": c.registered_counted,
            "registered_total": c.registered_total,
            "registered_pct": _r(c.coverage_registered_pct),
        },
        "not_counted": c.not_counted,
        "disputed": c.disputed,
        "undecided": c.undecided,
        "excluded": c.excluded,
        "unmatched": c.unmatched,
    }


def _share_of(party: str, digits: int | None = 4) -> Callable[[Totals], float | None]:
    """A getter for one party's share (a named function: lambdas in loops would share the key)."""

    def get(t: Totals) -> float | None:
        share = t.party_pct[party]
        return share if digits is None else _r(share, digits)

    return get


def _fmt(value: float | None, signed: bool = False) -> str:
    """A percentage (or, ``signed``, a difference in points) as the report and the window write it
    in the current language (observer.fmt), with two decimals; — where there is none."""
    f = formatter()
    return f.pp(value, 2) if signed else f.num(value, 2)


def flat_table(
    units: Sequence[UnitResult], source: str, template: ElectionTemplate, *, keys: bool
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for CSV/XLSX: stable snake_case column names (``keys``) or translated ones."""

    def name(key: str, label: str) -> str:
        return key if keys else label

    header = [
        name("unit", tr("coord.col.unit")),
        name("level", tr("coord.col.level")),
        name("name", tr("coord.col.name")),
    ]
    rows: list[list[Any]] = [[u.unit, u.level, unit_label(u, template)] for u in units]
    columns = _one_source_columns if source != "both" else _comparison_columns
    more_header, more_rows = columns(units, source, template, name)
    return header + more_header, [row + more for row, more in zip(rows, more_rows)]


def _one_source_columns(
    units: Sequence[UnitResult], source: str, template: ElectionTemplate, name: Callable[[str, str], str]
) -> tuple[list[str], list[list[Any]]]:
    """The figures of one source: stations, lines, votes, then the percentages."""
    parties = template.party_keys
    short = {p.key: p.short_name() for p in template.parties}
    header = [name("stations", tr("coord.col.stations")), name("registered", tr("coord.col.registered"))]
    header += [name(f"line_{k}", template.label(k)) for k in template.line_keys]
    header += [name(f"votes_{k}", short[k]) for k in parties]
    header += [name("turnout_pct", tr("coord.col.turnout")), name("invalid_pct", tr("coord.col.invalid"))]
    header += [name(f"pct_{k}", f"{short[k]}, %") for k in parties]
    rows: list[list[Any]] = []
    for u in units:
        t = u.official if source == "official" else u.observed
        assert t is not None
        rows.append(
            [
                t.stations,
                t.registered,
                *(t.lines[k] for k in template.line_keys),
                *(t.parties[k] for k in parties),
                _r(t.turnout_pct),
                _r(t.invalid_pct),
                *(_r(t.party_pct[k]) for k in parties),
            ]
        )
    return header, rows


def _comparison_columns(
    units: Sequence[UnitResult], source: str, template: ElectionTemplate, name: Callable[[str, str], str]
) -> tuple[list[str], list[list[Any]]]:
    """Coverage and station counts, then each ratio observed / official (same, all) / difference."""
    short = {p.key: p.short_name() for p in template.parties}
    sides = (
        ("observed", tr("coord.col.observed")),
        ("official", tr("coord.col.official_same")),
        ("official_all", tr("coord.col.official_all")),
    )
    header = [
        name("stations_observed", tr("coord.col.stations_observed")),
        name("stations_counted", tr("coord.col.stations_counted")),
        name("stations_total", tr("coord.col.stations_total")),
        name("coverage_stations_pct", tr("coord.col.coverage_stations")),
        name("coverage_registered_pct", tr("coord.col.coverage_registered")),
        name("not_counted", tr("coord.col.not_counted")),
        name("disputed", tr("coord.col.disputed")),
        name("undecided", tr("coord.col.undecided")),
        name("excluded", tr("coord.col.excluded")),
    ]
    metrics: list[tuple[str, str, Callable[[Totals], float | None], str]] = [
        ("turnout_pct", tr("coord.col.turnout"), lambda t: t.turnout_pct, "turnout"),
        ("invalid_pct", tr("coord.col.invalid"), lambda t: t.invalid_pct, "invalid"),
    ] + [(f"pct_{k}", f"{short[k]}, %", _share_of(k, digits=None), k) for k in template.party_keys]
    for mkey, mlabel, _, _ in metrics:
        header += [name(f"{mkey}_{side}", f"{mlabel} — {slabel}") for side, slabel in sides]
        header.append(name(f"{mkey}_diff_pp", f"{mlabel} — {tr('coord.col.diff_pp')}"))
        if mkey == "turnout_pct":
            header += [
                name("turnout_pct_headcount", tr("coord.col.headcount")),
                name("turnout_pct_announced", tr("coord.col.announced")),
            ]
    rows: list[list[Any]] = []
    for u in units:
        c = u.comparison
        assert c is not None
        row: list[Any] = [
            c.stations_observed,
            c.stations_counted,
            c.stations_total,
            _r(c.coverage_stations_pct),
            _r(c.coverage_registered_pct),
            c.not_counted,
            c.disputed,
            c.undecided,
            c.excluded,
        ]
        for mkey, _, get, dkey in metrics:
            row += [_r(get(t)) for t in (u.observed, u.official, u.official_all)]  # type: ignore[arg-type]
            row.append(_r(c.diff_pp[dkey]))
            if mkey == "turnout_pct":
                row += [_r(c.headcount_turnout_pct), _r(c.announced_turnout_pct)]
        rows.append(row)
    return header, rows


def _align(rows: list[list[str]], right_from: int = 1) -> str:
    """Columns padded to their widest cell; numbers right-aligned. len() is right for Cyrillic and Kazakh.

    Cells (names from files and packages) are made terminal-safe first, so the widths are what is shown.
    """
    rows = [[terminal(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.ljust(w) if i < right_from else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def text_table(units: Sequence[UnitResult], source: str, template: ElectionTemplate, rules: str) -> str:
    """The aggregate as the terminal shows it: one table for one source, a block per unit for both."""
    if source != "both":
        lines_out = [_align(_one_source_text_rows(units, source, template))]
    else:
        lines_out = []
        for u in units:
            lines_out += [_comparison_text_block(u, template), ""]
    if units and units[0].level == "national":
        threshold = template.threshold_pct
        lines_out.append(
            tr("coord.table.threshold", pct=formatter().num(threshold, 0 if threshold == int(threshold) else 1))
        )
    lines_out.append(tr("coord.table.rules", rules=rules))
    return "\n".join(lines_out).rstrip() + "\n"


def _passes(t: Totals, party: Party) -> str:
    """The national threshold mark after a party's share."""
    return "✓" if t.passes_threshold.get(party.key) else ""


def _one_source_text_rows(units: Sequence[UnitResult], source: str, template: ElectionTemplate) -> list[list[str]]:
    parties = template.parties
    head = [
        tr("coord.col.unit"),
        tr("coord.col.stations"),
        tr("coord.col.registered"),
        tr("coord.col.turnout"),
        tr("coord.col.invalid"),
    ]
    rows = [head + [p.short_name() for p in parties]]
    n = formatter()
    for u in units:
        t = u.official if source == "official" else u.observed
        assert t is not None
        rows.append(
            [
                unit_label(u, template),
                n.integer(t.stations),
                n.integer(t.registered),
                _fmt(t.turnout_pct),
                _fmt(t.invalid_pct),
            ]
            + [_fmt(t.party_pct[p.key]) + _passes(t, p) for p in parties]
        )
    return rows


def _comparison_text_block(u: UnitResult, template: ElectionTemplate) -> str:
    """One unit: its coverage line, then each ratio observed / official (same) / difference / official (all)."""
    c = u.comparison
    assert c is not None and u.observed is not None and u.official is not None and u.official_all is not None
    n = formatter()
    head = tr(
        "coord.table.unit_head",
        unit=terminal(unit_label(u, template)),
        observed=n.integer(c.stations_observed),
        counted=n.integer(c.stations_counted),
        total=n.integer(c.stations_total),
        pct=_fmt(c.coverage_stations_pct),
        reg_pct=_fmt(c.coverage_registered_pct),
        not_counted=n.integer(c.not_counted),
        disputed=n.integer(c.disputed),
        undecided=n.integer(c.undecided),
        excluded=n.integer(c.excluded),
    )
    o, f, a = u.observed, u.official, u.official_all
    d = c.diff_pp
    rows = [
        [
            "",
            tr("coord.col.observed"),
            tr("coord.col.official_same"),
            tr("coord.col.diff_pp"),
            tr("coord.col.official_all"),
        ],
        [
            tr("coord.col.turnout"),
            _fmt(o.turnout_pct),
            _fmt(f.turnout_pct),
            _fmt(d["turnout"], True),
            _fmt(a.turnout_pct),
        ],
        ["  " + tr("coord.col.headcount"), _fmt(c.headcount_turnout_pct), "", "", ""],
        ["  " + tr("coord.col.announced"), "", _fmt(c.announced_turnout_pct), "", ""],
        [
            tr("coord.col.invalid"),
            _fmt(o.invalid_pct),
            _fmt(f.invalid_pct),
            _fmt(d["invalid"], True),
            _fmt(a.invalid_pct),
        ],
    ]
    for p in template.parties:
        k = p.key
        rows.append(
            [
                p.short_name(),
                _fmt(o.party_pct[k]) + _passes(o, p),
                _fmt(f.party_pct[k]) + _passes(f, p),
                _fmt(d[k], True),
                _fmt(a.party_pct[k]) + _passes(a, p),
            ]
        )
    return head + "\n" + _align(rows)


def write_xlsx(path: Path, header: list[str], rows: list[list[Any]], title: str, rules: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append([spreadsheet(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([spreadsheet(v) for v in row])
    ws.append([])
    ws.append([spreadsheet(rules)])
    ws.freeze_panes = "D2"
    for i, label in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(max(10, len(str(label)) + 2), 40)
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    tmp.replace(path)


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with every cell spreadsheet-safe (no formula runs when it is opened); None is an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([spreadsheet(h) for h in header])
    writer.writerows(["" if v is None else spreadsheet(v) for v in row] for row in rows)
    return buf.getvalue()


def _cell(value: Any) -> str:
    """A table cell: numbers as :func:`_fmt` and observer.fmt write them, text as it is."""
    if value is None or isinstance(value, float):
        return _fmt(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return formatter().integer(value)
    return str(value)
