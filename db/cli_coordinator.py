"""Coordinator data commands: ``official import``, ``stations import``, ``aggregate``, ``check``, ``demo``.

The output formats of ``aggregate`` are documented field by field in
docs/aggregate.md and written by :mod:`db.aggregate_output`; the mapping files of
the imports in docs/official-import.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from db.aggregate import SOURCES, aggregate, rules_note, turnout_gaps
from db.aggregate_checks import CheckFailure, check_failures, violations_by_category_region
from db.aggregate_output import (  # noqa: F401 - defined here first: still importable from here
    _align,
    _cell,
    _fmt,
    _r,
    csv_text,
    flat_table,
    text_table,
    unit_json,
    unit_label,
    write_xlsx,
)
from db.cli_output import add_summary_options, print_json
from db.official import import_official
from db.services.hq import open_hq
from db.stations_import import import_stations
from db.store import ElectionStore
from observer.aggregate import LEVELS
from observer.csvio import ImportReport, RowsRefused
from observer.errors import ImportDataError, StorageError
from observer.fmt import formatter
from observer.i18n import tr
from observer.regions import region_name
from observer.safe_text import terminal

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
    add_summary_options(imp)
    imp.set_defaults(func=_official_import)

    p = sub.add_parser("stations", help=tr("coord.help.stations"))
    ssub = p.add_subparsers(dest="stations_command", required=True, metavar="ACTION")
    imp = ssub.add_parser("import", help=tr("coord.help.stations_import"))
    imp.add_argument("hq", metavar="HQ.db")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--map", default=None, metavar="MAP.toml", help=tr("coord.help.map"))
    imp.add_argument("--template", default=DEFAULT_TEMPLATE, help=tr("coord.help.template"))
    add_summary_options(imp)
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
    add_summary_options(p)
    p.set_defaults(func=_check)

    p = sub.add_parser("demo", help=tr("coord.help.demo"))
    p.add_argument("dir", metavar="DIR", help=tr("coord.help.demo_dir"))
    p.add_argument("--stations", type=int, default=10_000, help=tr("coord.help.demo_stations"))
    p.add_argument("--seed", type=int, default=1, help=tr("coord.help.demo_seed"))
    p.add_argument("--hq", action="store_true", help=tr("coord.help.demo_hq"))
    p.set_defaults(func=_demo)


# ---- imports -----------------------------------------------------------------------


def _run_import(args: argparse.Namespace, job: Callable[[ElectionStore], ImportReport]) -> int:
    hq = open_hq(args.hq, template=args.template)
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
    seconds = time.perf_counter() - started
    if args.summary_format == "json":
        print_json({**dataclasses.asdict(report), "seconds": round(seconds, 3)})
    elif not args.quiet:
        print(tr("coord.import.took", summary=terminal(report.summary()), seconds=formatter().num(seconds, 2)))
    return 0


def _official_import(args: argparse.Namespace) -> int:
    return _run_import(args, lambda hq: import_official(hq, Path(args.file), Path(args.map)))


def _stations_import(args: argparse.Namespace) -> int:
    return _run_import(args, lambda hq: import_stations(hq, Path(args.file), Path(args.map) if args.map else None))


# ---- aggregate ---------------------------------------------------------------------


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
    hq = open_hq(args.hq)
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
        data = [unit_json(u, args.source, rules, template) for u in units]
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
    signed: Sequence[str] = (),
) -> None:
    """Rows as an aligned table (the first ``text_columns`` left-aligned), CSV (snake_case header) or JSON objects.

    In the table, the columns named in ``signed`` are differences in points, written with their sign."""
    if args.format == "json":
        _write_text(args.out, json.dumps([dict(zip(keys, r)) for r in rows], ensure_ascii=False, indent=1) + "\n")
        return
    if args.format == "csv":
        _write_text(args.out, csv_text(keys, rows))
        return
    cells = [labels] + [[_fmt(v, True) if k in signed else _cell(v) for k, v in zip(keys, r)] for r in rows]
    _write_text(args.out, _align(cells, right_from=text_columns) + "\n" + (footer + "\n" if footer else ""))


def _gaps(args: argparse.Namespace) -> int:
    hq = open_hq(args.hq)
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
    footer = tr("coord.gaps.footer", shown=len(shown), total=len(gaps), rules=rules)
    _emit(args, keys, labels, rows, 3, footer, signed=("gap_pp",))
    return 0


def _violations(args: argparse.Namespace) -> int:
    hq = open_hq(args.hq)
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
    hq = open_hq(args.hq)
    try:
        failures = check_failures(hq)
    finally:
        hq.close()
    official = sum(1 for f in failures if f.source == "official")
    if args.summary_format == "json":
        print_json(
            {
                "official": official,
                "observed": len(failures) - official,
                "failures": [dataclasses.asdict(f) for f in failures],
            }
        )
    elif not args.quiet:
        _print_check_text(failures, official)
    # Like a linter: a script can tell "all figures add up" from "something to look at".
    return 1 if any(f.severity == "error" for f in failures) else 0


def _print_check_text(failures: Sequence[CheckFailure], official: int) -> None:
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
    n = formatter()
    print(tr("coord.check.summary", official=n.integer(official), observed=n.integer(len(failures) - official)))


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
            stations=formatter().integer(args.stations),
            packages=formatter().integer(len(paths.packages)),
            seconds=formatter().num(time.perf_counter() - started, 1),
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
        print(tr("coord.demo.hq", file=str(hq_path), seconds=formatter().num(time.perf_counter() - started, 1)))
    return 0
