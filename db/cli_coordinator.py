"""Coordinator data commands: ``official import``, ``stations import``, ``aggregate``, ``check``, ``demo``.

The output formats of ``aggregate`` are documented field by field in
docs/aggregate.md; the mapping files of the imports in docs/official-import.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from db.aggregate import SOURCES, aggregate, check_failures, rules_note, turnout_gaps, violations_by_category_region
from db.official import import_official
from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.aggregate import LEVELS, Totals, UnitResult
from observer.csvio import ImportReport, RowsRefused
from observer.errors import ImportDataError, StorageError
from observer.i18n import tr
from observer.regions import region_name
from observer.safe_text import spreadsheet, terminal
from observer.template import ElectionTemplate, resolve_template

DEFAULT_TEMPLATE = "kz-majilis-2021"
FORMATS: tuple[str, ...] = ("table", "csv", "json", "xlsx")
MAX_PRINTED_PROBLEMS = 50


def register(sub: Any) -> None:
    p = sub.add_parser("official", help=tr("coord.help.official"))
    osub = p.add_subparsers(dest="official_command", required=True, metavar="ACTION")
    imp = osub.add_parser("import", help=tr("coord.help.official_import"))
    imp.add_argument("hq", metavar="HQ.db")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--map", required=True, metavar="MAP.toml", help=tr("coord.help.map"))
    imp.add_argument("--template", default=DEFAULT_TEMPLATE, help=tr("coord.help.template"))
    imp.set_defaults(func=_official_import)

    p = sub.add_parser("stations", help=tr("coord.help.stations"))
    ssub = p.add_subparsers(dest="stations_command", required=True, metavar="ACTION")
    imp = ssub.add_parser("import", help=tr("coord.help.stations_import"))
    imp.add_argument("hq", metavar="HQ.db")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--map", default=None, metavar="MAP.toml", help=tr("coord.help.map"))
    imp.add_argument("--template", default=DEFAULT_TEMPLATE, help=tr("coord.help.template"))
    imp.set_defaults(func=_stations_import)

    p = sub.add_parser("aggregate", help=tr("coord.help.aggregate"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("--level", choices=LEVELS, default="national")
    p.add_argument("--source", choices=SOURCES, default="both")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", default=None, metavar="FILE", help=tr("coord.help.out"))
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("gaps", help=tr("coord.help.gaps"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("--top", type=int, default=50, metavar="N", help=tr("coord.help.top"))
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--out", default=None, metavar="FILE", help=tr("coord.help.out"))
    p.set_defaults(func=_gaps)

    p = sub.add_parser("violations", help=tr("coord.help.violations"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--out", default=None, metavar="FILE", help=tr("coord.help.out"))
    p.set_defaults(func=_violations)

    p = sub.add_parser("check", help=tr("coord.help.check"))
    p.add_argument("hq", metavar="HQ.db")
    p.set_defaults(func=_check)

    p = sub.add_parser("demo", help=tr("coord.help.demo"))
    p.add_argument("dir", metavar="DIR", help=tr("coord.help.demo_dir"))
    p.add_argument("--stations", type=int, default=10_000, help=tr("coord.help.demo_stations"))
    p.add_argument("--seed", type=int, default=1, help=tr("coord.help.demo_seed"))
    p.add_argument("--hq", action="store_true", help=tr("coord.help.demo_hq"))
    p.set_defaults(func=_demo)


# ---- opening the HQ file ------------------------------------------------------------


def open_or_create_hq(path: str | Path, template: str | None) -> ElectionStore:
    """Open a coordinator file; with ``template``, create it from that template on first use."""
    p = Path(path)
    if not p.exists():
        if template is None:
            raise StorageError("coord.hq.missing", file=str(p))
        return ElectionStore.create(p, resolve_template(template), role=ROLE_HQ)
    store = ElectionStore.open(p)
    if store.role != ROLE_HQ:
        store.close()
        raise ImportDataError("coord.hq.not_hq", file=p.name)
    return store


def _run_import(args: argparse.Namespace, job: Callable[[ElectionStore], ImportReport]) -> int:
    hq = open_or_create_hq(args.hq, args.template)
    try:
        started = time.perf_counter()
        report = job(hq)
    except RowsRefused as exc:
        for problem in exc.problems[:MAX_PRINTED_PROBLEMS]:
            print(
                tr("coord.import.problem_line", line=problem.line, problem=terminal(problem.message)), file=sys.stderr
            )
        if exc.total > MAX_PRINTED_PROBLEMS:
            print(tr("coord.import.more_problems", count=exc.total - MAX_PRINTED_PROBLEMS), file=sys.stderr)
        raise
    finally:
        hq.close()
    print(tr("coord.import.took", summary=terminal(report.summary()), seconds=f"{time.perf_counter() - started:.2f}"))
    return 0


def _official_import(args: argparse.Namespace) -> int:
    return _run_import(args, lambda hq: import_official(hq, Path(args.file), Path(args.map)))


def _stations_import(args: argparse.Namespace) -> int:
    return _run_import(args, lambda hq: import_stations(hq, Path(args.file), Path(args.map) if args.map else None))


# ---- aggregate ---------------------------------------------------------------------


def unit_label(u: UnitResult) -> str:
    """The unit in words: the country, a region's name, or "region / district"."""
    if u.level == "national":
        return tr("coord.unit.national")
    if u.level == "region":
        return region_name(u.region)
    return f"{region_name(u.region)} / {u.district}"


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


def unit_json(u: UnitResult, source: str, rules: str) -> dict[str, Any]:
    """One unit as documented in docs/aggregate.md."""
    head: dict[str, Any] = {
        "unit": u.unit,
        "name": unit_label(u),
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
    if value is None:
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def flat_table(
    units: Sequence[UnitResult], source: str, template: ElectionTemplate, *, keys: bool
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for CSV/XLSX: stable snake_case column names (``keys``) or translated ones."""
    parties = template.party_keys
    short = {p.key: p.short_name() for p in template.parties}

    def name(key: str, label: str) -> str:
        return key if keys else label

    header = [
        name("unit", tr("coord.col.unit")),
        name("level", tr("coord.col.level")),
        name("name", tr("coord.col.name")),
    ]
    rows: list[list[Any]] = [[u.unit, u.level, unit_label(u)] for u in units]
    if source != "both":
        header += [name("stations", tr("coord.col.stations")), name("registered", tr("coord.col.registered"))]
        header += [name(f"line_{k}", template.label(k)) for k in template.line_keys]
        header += [name(f"votes_{k}", short[k]) for k in parties]
        header += [name("turnout_pct", tr("coord.col.turnout")), name("invalid_pct", tr("coord.col.invalid"))]
        header += [name(f"pct_{k}", f"{short[k]}, %") for k in parties]
        for row, u in zip(rows, units):
            t = u.official if source == "official" else u.observed
            assert t is not None
            row += [
                t.stations,
                t.registered,
                *(t.lines[k] for k in template.line_keys),
                *(t.parties[k] for k in parties),
            ]
            row += [_r(t.turnout_pct), _r(t.invalid_pct), *(_r(t.party_pct[k]) for k in parties)]
        return header, rows

    sides = (
        ("observed", tr("coord.col.observed")),
        ("official", tr("coord.col.official_same")),
        ("official_all", tr("coord.col.official_all")),
    )
    header += [
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
    ] + [(f"pct_{k}", f"{short[k]}, %", _share_of(k, digits=None), k) for k in parties]
    for mkey, mlabel, _, _ in metrics:
        header += [name(f"{mkey}_{side}", f"{mlabel} — {slabel}") for side, slabel in sides]
        header.append(name(f"{mkey}_diff_pp", f"{mlabel} — {tr('coord.col.diff_pp')}"))
        if mkey == "turnout_pct":
            header += [
                name("turnout_pct_headcount", tr("coord.col.headcount")),
                name("turnout_pct_announced", tr("coord.col.announced")),
            ]
    for row, u in zip(rows, units):
        c = u.comparison
        assert c is not None
        row += [
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
    parties = template.parties
    lines_out: list[str] = []
    if source != "both":
        head = [
            tr("coord.col.unit"),
            tr("coord.col.stations"),
            tr("coord.col.registered"),
            tr("coord.col.turnout"),
            tr("coord.col.invalid"),
        ]
        head += [p.short_name() for p in parties]
        rows = [head]
        for u in units:
            t = u.official if source == "official" else u.observed
            assert t is not None
            rows.append(
                [unit_label(u), str(t.stations), str(t.registered), _fmt(t.turnout_pct), _fmt(t.invalid_pct)]
                + [_fmt(t.party_pct[p.key]) + ("✓" if t.passes_threshold.get(p.key) else "") for p in parties]
            )
        lines_out.append(_align(rows))
    else:
        for u in units:
            c = u.comparison
            assert c is not None and u.observed is not None and u.official is not None and u.official_all is not None
            lines_out.append(
                tr(
                    "coord.table.unit_head",
                    unit=terminal(unit_label(u)),
                    observed=c.stations_observed,
                    counted=c.stations_counted,
                    total=c.stations_total,
                    pct=_fmt(c.coverage_stations_pct),
                    reg_pct=_fmt(c.coverage_registered_pct),
                    not_counted=c.not_counted,
                    disputed=c.disputed,
                    undecided=c.undecided,
                    excluded=c.excluded,
                )
            )
            rows = [
                [
                    "",
                    tr("coord.col.observed"),
                    tr("coord.col.official_same"),
                    tr("coord.col.diff_pp"),
                    tr("coord.col.official_all"),
                ]
            ]
            o, f, a = u.observed, u.official, u.official_all
            rows.append(
                [
                    tr("coord.col.turnout"),
                    _fmt(o.turnout_pct),
                    _fmt(f.turnout_pct),
                    _fmt(c.diff_pp["turnout"], True),
                    _fmt(a.turnout_pct),
                ]
            )
            rows.append(["  " + tr("coord.col.headcount"), _fmt(c.headcount_turnout_pct), "", "", ""])
            rows.append(["  " + tr("coord.col.announced"), "", _fmt(c.announced_turnout_pct), "", ""])
            rows.append(
                [
                    tr("coord.col.invalid"),
                    _fmt(o.invalid_pct),
                    _fmt(f.invalid_pct),
                    _fmt(c.diff_pp["invalid"], True),
                    _fmt(a.invalid_pct),
                ]
            )
            for p in parties:
                mark = lambda t: "✓" if t.passes_threshold.get(p.key) else ""  # noqa: E731, B023 - national threshold mark, called at once
                rows.append(
                    [
                        p.short_name(),
                        _fmt(o.party_pct[p.key]) + mark(o),
                        _fmt(f.party_pct[p.key]) + mark(f),
                        _fmt(c.diff_pp[p.key], True),
                        _fmt(a.party_pct[p.key]) + mark(a),
                    ]
                )
            lines_out.append(_align(rows))
            lines_out.append("")
    if units and units[0].level == "national":
        lines_out.append(tr("coord.table.threshold", pct=f"{template.threshold_pct:g}"))
    lines_out.append(tr("coord.table.rules", rules=rules))
    return "\n".join(lines_out).rstrip() + "\n"


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


def _write_text(out: str | None, text: str) -> None:
    """The output to stdout or to a file; control characters that slipped into it are shown escaped."""
    text = terminal(text, keep_newlines=True)  # cells are escaped already; this catches the rest (JSON's C1, bidi)
    if out is None:
        sys.stdout.write(text)
        return
    path = Path(out)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StorageError("error.storage.io", file=str(path), problem=exc.strerror or str(exc)) from None


def _aggregate(args: argparse.Namespace) -> int:
    hq = open_or_create_hq(args.hq, None)
    try:
        units = aggregate(hq, args.level, args.source)
        template = hq.template
        rules = rules_note(hq)
    finally:
        hq.close()
    if not units:
        print(tr("coord.aggregate.empty", source=args.source), file=sys.stderr)
    if args.format == "table":
        _write_text(args.out, text_table(units, args.source, template, rules))
    elif args.format == "json":
        data = [unit_json(u, args.source, rules) for u in units]
        _write_text(args.out, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    elif args.format == "csv":
        header, rows = flat_table(units, args.source, template, keys=True)
        _write_text(args.out, csv_text(header, rows))
    else:
        if not args.out:
            raise ImportDataError("coord.aggregate.xlsx_needs_out")
        header, rows = flat_table(units, args.source, template, keys=False)
        try:
            write_xlsx(Path(args.out), header, rows, f"{args.level}-{args.source}", rules)
        except OSError as exc:
            raise StorageError("error.storage.io", file=args.out, problem=exc.strerror or str(exc)) from None
        print(tr("coord.aggregate.written", file=terminal(args.out), units=len(units)))
    return 0


# ---- gaps and violations -------------------------------------------------------------


def _emit(
    args: argparse.Namespace,
    keys: list[str],
    labels: list[str],
    rows: list[list[Any]],
    text_columns: int,
    footer: str = "",
) -> None:
    """Rows as an aligned table (the first ``text_columns`` left-aligned), CSV (snake_case header) or JSON objects."""
    if args.format == "json":
        _write_text(args.out, json.dumps([dict(zip(keys, r)) for r in rows], ensure_ascii=False, indent=1) + "\n")
        return
    if args.format == "csv":
        _write_text(args.out, csv_text(keys, rows))
        return
    cells = [labels] + [[_cell(v) for v in r] for r in rows]
    _write_text(args.out, _align(cells, right_from=text_columns) + "\n" + (footer + "\n" if footer else ""))


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _gaps(args: argparse.Namespace) -> int:
    hq = open_or_create_hq(args.hq, None)
    try:
        gaps = turnout_gaps(hq)
        rules = rules_note(hq)
    finally:
        hq.close()
    shown = gaps[: max(0, args.top)]
    keys = [
        "code",
        "region",
        "district",
        "official_turnout_pct",
        "headcount_turnout_pct",
        "observed_turnout_pct",
        "gap_pp",
    ]
    labels = [
        tr("coord.col.station"),
        tr("coord.col.region"),
        tr("coord.col.district"),
        tr("coord.col.official_turnout"),
        tr("coord.col.headcount"),
        tr("coord.col.protocol_turnout"),
        tr("coord.col.gap"),
    ]
    rows: list[list[Any]] = [
        [
            g.code,
            g.region if args.format != "table" else region_name(g.region),
            g.district,
            _r(g.official_turnout_pct),
            _r(g.headcount_turnout_pct),
            _r(g.observed_turnout_pct),
            _r(g.gap_pp),
        ]
        for g in shown
    ]
    _emit(args, keys, labels, rows, 3, tr("coord.gaps.footer", shown=len(shown), total=len(gaps), rules=rules))
    return 0


def _violations(args: argparse.Namespace) -> int:
    hq = open_or_create_hq(args.hq, None)
    try:
        counts = violations_by_category_region(hq)
        template = hq.template
    finally:
        hq.close()

    def category(code: str) -> str:
        known = template.category(code)
        return known.labels.get() if known else code

    keys = ["region", "category", "count"]
    labels = [tr("coord.col.region"), tr("coord.col.category"), tr("coord.col.count")]
    rows: list[list[Any]] = [
        [
            region_name(v.region) if args.format == "table" else v.region,
            category(v.category) if args.format == "table" else v.category,
            v.count,
        ]
        for v in counts
    ]
    _emit(args, keys, labels, rows, 2, tr("coord.violations.footer", total=sum(v.count for v in counts)))
    return 0


# ---- check -------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    hq = open_or_create_hq(args.hq, None)
    try:
        failures = check_failures(hq)
    finally:
        hq.close()
    for f in failures:
        where = terminal(f"{f.code} ({region_name(f.region)}{', ' + f.district if f.district else ''})")
        source = (
            tr("coord.check.official")
            if f.source == "official"
            else tr("coord.check.observed", observer=terminal(f.observer or "?"))
        )
        print(f"[{source}] {where}")
        for message in f.messages:
            print(f"    {terminal(message)}")
    official = sum(1 for f in failures if f.source == "official")
    print(tr("coord.check.summary", official=official, observed=len(failures) - official))
    # Like a linter: a script can tell "all figures add up" from "something to look at".
    return 1 if any(f.severity == "error" for f in failures) else 0


# ---- demo --------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from db.demo import demo_hq, generate_demo

    if args.stations < 1:
        raise ImportDataError("coord.demo.bad_count", count=args.stations)
    started = time.perf_counter()
    paths = generate_demo(Path(args.dir), stations=args.stations, seed=args.seed)
    print(
        tr(
            "coord.demo.written",
            dir=str(paths.root),
            stations=args.stations,
            packages=len(paths.packages),
            seconds=f"{time.perf_counter() - started:.1f}",
        )
    )
    print(
        tr(
            "coord.demo.next",
            stations=str(paths.stations_csv),
            official=str(paths.official_csv),
            map=str(paths.official_map),
            packages=str(paths.packages_dir),
            keys=str(paths.keys_file),
        )
    )
    if args.hq:
        started = time.perf_counter()
        hq_path = demo_hq(Path(args.dir), stations=args.stations, seed=args.seed, paths=paths)
        print(tr("coord.demo.hq", file=str(hq_path), seconds=f"{time.perf_counter() - started:.1f}"))
    return 0
