"""`baqylau forensics HQ.db [--level national|region] [--format table|json] [--out DIR]`.

Also the loading step every front end shares: :func:`run_forensics` reads an
HQ file into the arrays :mod:`observer.forensics` works on (official results
for every station that has them, the observers' counted protocols, and the
full station list for the PVT), so the GUI and the report call the same thing
as the command line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from db.aggregate import station_tables
from db.store import ROLE_HQ, ElectionStore
from observer.aggregate import StationArrays, evaluate_term
from observer.forensics import (
    NATIONAL,
    ForensicsError,
    ForensicsResult,
    Options,
    StationReturns,
    analyse,
    figure_notes,
    to_plain,
    unit_name,
    verdict,
)
from observer.i18n import current_language, tr
from observer.template import ElectionTemplate

# ---------------------------------------------------------------------------
# loading


def returns_from_arrays(
    template: ElectionTemplate, arrays: StationArrays, *, with_figures_only: bool = True
) -> StationReturns:
    """The template's turnout, share base and invalid terms evaluated per station (-1 where not given).

    Registered voters come from the protocol line when the station gives it
    (the CEC computes turnout from it) and from the station list otherwise.
    """
    sub = arrays.subset(arrays.has_figures) if with_figures_only else arrays
    pk = template.party_keys

    def term(t: Any) -> np.ndarray:
        value, present = evaluate_term(t, sub, pk)
        return np.where(present & (value >= 0), value, -1).astype(np.int64)

    registered = term(template.registered)
    registered = np.where(registered >= 0, registered, np.asarray(sub.registered, dtype=np.int64))
    parties = {key: sub.column(key) for key in pk}
    return StationReturns.build(
        np.asarray(sub.codes, dtype=object),
        np.asarray(sub.regions, dtype=object),
        registered,
        term(template.voted),
        term(template.share_base),
        term(template.invalid),
        parties,
    )


def load_returns(
    hq: ElectionStore, tables: tuple[StationArrays, StationArrays] | None = None
) -> tuple[StationReturns, StationReturns, StationReturns]:
    """(official, observed, station list) of an HQ file.

    ``tables`` are db.aggregate.station_tables(hq) when the caller has read them already
    (the report does): reading them again costs a second pass over the whole file.
    """
    if hq.role != ROLE_HQ:
        raise ForensicsError("forensics.error.not_hq", file=hq.path.name)
    official_arrays, observed_arrays = tables if tables is not None else station_tables(hq)
    template = hq.template
    official = returns_from_arrays(template, official_arrays)
    observed = returns_from_arrays(template, observed_arrays)
    population = returns_from_arrays(template, official_arrays, with_figures_only=False)
    return official, observed, population


def run_forensics(
    hq: ElectionStore,
    level: str = "national",
    options: Options = Options(),
    tables: tuple[StationArrays, StationArrays] | None = None,
) -> ForensicsResult:
    """Every forensic test on an HQ file: official results, observed sample and station list."""
    official, observed, population = load_returns(hq, tables)
    if len(official) == 0:
        raise ForensicsError("forensics.error.no_official", file=hq.path.name)
    return analyse(official, observed if len(observed) else None, level=level, options=options, population=population)


def party_namer(template: ElectionTemplate, lang: str | None = None) -> Callable[[str], str]:
    """Party key -> the short name a table has room for."""

    def name(key: str) -> str:
        try:
            party = next(p for p in template.parties if p.key == key)
        except StopIteration:
            return key
        return party.short_name(lang)

    return name


# ---------------------------------------------------------------------------
# text


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ")


def _int(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{int(round(value)):,}".replace(",", " ")


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table: first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _notes(figure: Any, lang: str, name: Callable[[str], str]) -> list[str]:
    return ["  " + text for text in figure_notes(figure, lang, name).values()]


def render_text(
    result: ForensicsResult,
    template: ElectionTemplate,
    lang: str | None = None,
    *,
    official: int = 0,
    observed: int = 0,
) -> str:
    """The whole result as the command line prints it."""
    lang = lang or current_language()
    name = party_namer(template, lang)
    t = lambda key, **kw: tr(key, lang, **kw)  # noqa: E731 - a local shorthand
    out: list[str] = [
        t("forensics.title") + " — " + template.names.get(lang),
        t("forensics.cli.summary", leader=name(result.leader), stations=_int(official), observed=_int(observed)),
        "",
        "1. " + t("forensics.h.fingerprint"),
    ]
    fp = result.fingerprint
    for m in fp.masses:
        out.append(
            "  "
            + t(
                "forensics.line.mass",
                threshold=m.threshold,
                stations=_int(m.stations),
                share=_num(m.voters_share, 2),
                se=_num(m.voters_se, 2),
                leader_share=_num(m.leader_share, 2),
            )
        )
    out.append("  " + t("forensics.line.corr", corr=_num(fp.turnout_leader_corr, 3)))
    out += _notes(fp, lang, name)

    dist = result.turnout
    out += ["", "2. " + t("forensics.h.shpilkin")]
    out.append(
        "  "
        + t(
            "forensics.line.shpilkin",
            mode=_num(dist.mode_pct),
            ratio=_num(dist.ratio, 3),
            excess=_int(dist.excess),
            margin=_int(1.96 * dist.excess_se),
            share=_num(dist.excess_share),
        )
    )
    out += _notes(dist, lang, name)

    out += ["", "3. " + t("forensics.h.integer")]
    rows = []
    for test in result.integer:
        c = test.national
        rows.append(
            [
                t(f"forensics.q.{test.quantity}"),
                t(f"forensics.step.{test.step}"),
                _int(c.stations),
                _int(c.observed),
                _num(c.expected),
                f"{_int(c.low)}–{_int(c.high)}",
                _num(c.ratio, 3),
                _p(c.p_value),
            ]
        )
    heads = ["quantity", "step", "stations", "observed", "expected", "range", "ratio", "p"]
    out += ["  " + line for line in _grid([t(f"forensics.col.{h}") for h in heads], rows)]
    out += _notes(result.integer[0], lang, name)
    out.append("  " + verdict(result.integer_test("either", 1), lang=lang))

    out += ["", "4. " + t("forensics.h.digits")]
    if result.digits:
        rows = [
            [
                name(d.party),
                t(f"forensics.test.{d.test}"),
                _int(d.n),
                _num(d.chi2),
                _p(d.p_value),
                f"{_num(d.mean, 3)} ({_num(d.expected_mean, 3)})",
                _p(d.mean_p),
                _num(d.repeat_share) + "%" if math.isfinite(d.repeat_share) else "—",
            ]
            for d in result.digits
        ]
        heads = ["party", "test", "n", "chi2", "p", "mean", "mean_p", "repeat"]
        out += ["  " + line for line in _grid([t(f"forensics.col.{h}") for h in heads], rows)]
        for kind in ("last", "second"):
            first = next((d for d in result.digits if d.test == kind), None)
            if first is not None:
                notes = figure_notes(first, lang, name)
                out += ["  " + notes["method"], "  " + notes["uncertainty"], "  " + notes["caveat"]]
    else:
        out.append("  " + t("forensics.line.no_digits"))

    out += ["", "5. " + t("forensics.h.pvt")]
    if result.pvt is not None:
        rows = []
        # Regional rows only when regions were asked for: at national level they would drown the answer.
        shown = result.pvt.estimates if result.level == "region" else tuple(result.pvt.national())
        for e in shown:
            unit = unit_name(e.unit, lang)
            quantity = t(f"forensics.q.{e.quantity}") if e.quantity in ("turnout", "invalid") else name(e.quantity)
            inside = "/".join(
                "—" if e.inside(level) is None else t("forensics.yes" if e.inside(level) else "forensics.no")
                for level in (0.95, 0.99)
            )
            rows.append(
                [
                    unit + (" *" if e.small_sample else ""),
                    quantity,
                    _int(e.stations),
                    _num(e.value, 2),
                    _num(e.margin(0.95), 2),
                    _num(e.margin(0.99), 2),
                    _num(e.official, 2),
                    inside,
                ]
            )
        heads = ["unit", "quantity", "stations", "estimate", "moe95", "moe99", "official", "inside"]
        out += ["  " + line for line in _grid([t(f"forensics.col.{h}") for h in heads], rows)]
        out.append("  " + t("forensics.note.small"))
        out += _notes(result.pvt, lang, name)
    else:
        out.append("  " + t("forensics.line.no_sample"))

    out += ["", "6. " + t("forensics.h.comparison")]
    comp = result.comparison
    if comp is not None:
        rows = [
            [
                t(f"forensics.q.{g.quantity}"),
                _int(g.stations),
                _num(g.official, 2),
                _num(g.observed, 2),
                _num(g.gap, 2),
                _num(g.se, 2),
                _num(g.median_station_gap, 2),
                _int(g.stations_over_1pp),
                _int(g.stations_over_5pp),
            ]
            for g in comp.gaps
        ]
        heads = ["quantity", "stations", "official", "observed", "gap", "se", "median", "over1", "over5"]
        out += ["  " + line for line in _grid([t(f"forensics.col.{h}") for h in heads], rows)]
        s = comp.signs
        out.append(
            "  "
            + t(
                "forensics.line.signs",
                threshold=s.threshold,
                observed=_num(s.observed_mass, 2),
                observed_se=_num(s.observed_se, 2),
                unobserved=_num(s.unobserved_mass, 2),
                unobserved_se=_num(s.unobserved_se, 2),
                p=_p(s.p_value),
                turnout_observed=_num(s.mean_turnout_observed),
                turnout_unobserved=_num(s.mean_turnout_unobserved),
            )
        )
        if s.integer_observed is not None and s.integer_unobserved is not None:
            out.append(
                "  "
                + t(
                    "forensics.line.signs_integer",
                    observed_ratio=_num(s.integer_observed.ratio, 2),
                    observed_p=_p(s.integer_observed.p_value),
                    unobserved_ratio=_num(s.integer_unobserved.ratio, 2),
                    unobserved_p=_p(s.integer_unobserved.p_value),
                )
            )
        differing = [g for g in comp.largest if abs(g.gap) >= 0.05][:10]
        if differing:
            heads = ["station", "region", "observed_turnout", "official_turnout", "gap"]
            rows = [
                [g.code, unit_name(g.region, lang), _num(g.observed_turnout), _num(g.official_turnout), _num(g.gap)]
                for g in differing
            ]
            out += ["  " + line for line in _grid([t(f"forensics.col.{h}") for h in heads], rows)]
        out += _notes(comp, lang, name)
    else:
        out.append("  " + t("forensics.line.no_sample"))

    if result.regions:
        thr = result.options.thresholds[0]
        out += ["", t("forensics.h.regions")]
        rows = []
        for r in result.regions:

            def rc(c: Any) -> str:
                return "—" if c is None else f"{_num(c.ratio, 2)} ({_p(c.p_value)})"

            rows.append(
                [
                    unit_name(r.region, lang),
                    _int(r.stations),
                    _num(r.turnout),
                    _num(r.leader_share),
                    _num(r.high_mass, 2),
                    f"{_int(r.shpilkin_excess)} ({_int(r.shpilkin_se)})",
                    rc(r.integer_turnout),
                    rc(r.integer_leader),
                ]
            )
        heads = [
            t("forensics.col.region"),
            t("forensics.col.stations"),
            t("forensics.col.turnout"),
            t("forensics.col.leader"),
            t("forensics.col.mass", threshold=thr),
            t("forensics.col.excess"),
            t("forensics.col.round_turnout"),
            t("forensics.col.round_leader"),
        ]
        out += ["  " + line for line in _grid(heads, rows)]
        out.append(
            "  "
            + t(
                "forensics.note.regions",
                threshold=thr,
                regions=len(result.regions),
                expected=_num(0.05 * len(result.regions)),
            )
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# files


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in row])
    return buf.getvalue()


def output_files(result: ForensicsResult, meta: dict[str, Any]) -> dict[str, str]:
    """File name -> content of everything ``--out`` writes (JSON and CSV, no pictures)."""
    files: dict[str, str] = {}
    files["forensics.json"] = json.dumps(
        {"meta": meta, "result": to_plain(result)}, ensure_ascii=False, allow_nan=False, indent=1
    )
    fp = result.fingerprint
    te, se = fp.turnout_edges, fp.share_edges
    files["fingerprint.csv"] = _csv_text(
        ["turnout_from", "turnout_to", "leader_share_from", "leader_share_to", "voters"],
        [
            [te[i], te[i + 1], se[j], se[j + 1], float(fp.voters[i, j])]
            for i in range(fp.voters.shape[0])
            for j in range(fp.voters.shape[1])
            if fp.voters[i, j] > 0
        ],
    )
    d = result.turnout
    files["turnout_histogram.csv"] = _csv_text(
        ["turnout_from", "turnout_to", "voters", "leader_votes", "other_votes", "expected_leader_votes"],
        [
            [
                d.edges[i],
                d.edges[i + 1],
                float(d.voters[i]),
                float(d.leader_votes[i]),
                float(d.other_votes[i]),
                float(d.expected_leader[i]),
            ]
            for i in range(len(d.voters))
        ],
    )
    files["fine_histogram.csv"] = _csv_text(
        ["percent", "stations_by_turnout", "stations_by_leader_share"],
        [
            [f"{i / 10:.1f}", int(result.fine_turnout_hist[i]), int(result.fine_leader_hist[i])]
            for i in range(len(result.fine_turnout_hist))
        ],
    )
    rows = []
    for test in result.integer:
        for c in (test.national, *test.groups):
            rows.append(
                [
                    test.quantity,
                    test.step,
                    c.kind,
                    c.group,
                    c.stations,
                    c.observed,
                    c.expected,
                    c.low,
                    c.high,
                    c.ratio,
                    c.p_value,
                ]
            )
    files["integer_percent.csv"] = _csv_text(
        [
            "quantity",
            "step",
            "kind",
            "group",
            "stations",
            "observed",
            "expected",
            "low95",
            "high95",
            "ratio",
            "p_value",
        ],
        rows,
    )
    files["digits.csv"] = _csv_text(
        [
            "party",
            "test",
            "n",
            "chi2",
            "df",
            "p_value",
            "mean",
            "expected_mean",
            "mean_p",
            "repeat_share",
            "repeat_p",
            *(f"d{i}" for i in range(10)),
        ],
        [
            [
                t.party,
                t.test,
                t.n,
                t.chi2,
                t.df,
                t.p_value,
                t.mean,
                t.expected_mean,
                t.mean_p,
                t.repeat_share,
                t.repeat_p,
                *t.counts.tolist(),
            ]
            for t in result.digits
        ],
    )
    if result.pvt is not None:
        files["pvt.csv"] = _csv_text(
            [
                "unit",
                "quantity",
                "stations",
                "estimate",
                "se",
                "margin95",
                "margin99",
                "official",
                "inside95",
                "inside99",
                "small_sample",
            ],
            [
                [
                    "national" if e.unit == NATIONAL else e.unit,
                    e.quantity,
                    e.stations,
                    e.value,
                    e.se,
                    e.margin(0.95),
                    e.margin(0.99),
                    e.official,
                    e.inside(0.95),
                    e.inside(0.99),
                    e.small_sample,
                ]
                for e in result.pvt.estimates
            ],
        )
    if result.comparison is not None:
        files["comparison.csv"] = _csv_text(
            [
                "quantity",
                "stations",
                "official",
                "observed",
                "gap",
                "se",
                "median_station_gap",
                "stations_over_1pp",
                "stations_over_5pp",
            ],
            [
                [
                    g.quantity,
                    g.stations,
                    g.official,
                    g.observed,
                    g.gap,
                    g.se,
                    g.median_station_gap,
                    g.stations_over_1pp,
                    g.stations_over_5pp,
                ]
                for g in result.comparison.gaps
            ],
        )
        files["largest_gaps.csv"] = _csv_text(
            ["code", "region", "observed_turnout", "official_turnout", "gap"],
            [[g.code, g.region, g.observed_turnout, g.official_turnout, g.gap] for g in result.comparison.largest],
        )
    if result.regions:
        files["regions.csv"] = _csv_text(
            [
                "region",
                "stations",
                "voters",
                "turnout",
                "leader_share",
                "high_mass",
                "high_mass_se",
                "shpilkin_excess",
                "shpilkin_se",
                "round_turnout_observed",
                "round_turnout_expected",
                "round_turnout_p",
                "round_leader_observed",
                "round_leader_expected",
                "round_leader_p",
            ],
            [_region_row(r) for r in result.regions],
        )
    return files


def _region_row(r: Any) -> list[Any]:
    row: list[Any] = [
        r.region,
        r.stations,
        r.voters,
        r.turnout,
        r.leader_share,
        r.high_mass,
        r.high_mass_se,
        r.shpilkin_excess,
        r.shpilkin_se,
    ]
    for c in (r.integer_turnout, r.integer_leader):
        row += [c.observed, c.expected, c.p_value] if c is not None else [None, None, None]
    return row


def write_outputs(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write every file or none: all go to temporary names first, then are renamed into place."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ForensicsError("forensics.error.out_dir", dir=str(folder), problem=tr("forensics.error.not_dir"))
    created = not folder.exists()
    temps: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            tmp = folder / f".{name}.part"
            temps.append((tmp, folder / name))
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        if created:
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty or already gone: leave it, it holds nothing of ours
        raise ForensicsError("forensics.error.out_dir", dir=str(folder), problem=exc.strerror or str(exc)) from None
    # Renames within one folder are atomic and do not fail for lack of space.
    for tmp, target in temps:
        os.replace(tmp, target)
    return [target for _, target in temps]


# ---------------------------------------------------------------------------
# command line


def register(sub: Any) -> None:
    p = sub.add_parser("forensics", help=tr("forensics.cli.help"))
    p.add_argument("hq", help=tr("forensics.cli.hq_help"))
    p.add_argument("--level", choices=("national", "region"), default="national", help=tr("forensics.cli.level_help"))
    p.add_argument("--format", choices=("table", "json"), default="table", help=tr("forensics.cli.format_help"))
    p.add_argument("--out", metavar="DIR", help=tr("forensics.cli.out_help"))
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    options = Options()
    store = ElectionStore.open(args.hq)
    try:
        official, observed, population = load_returns(store)
        if len(official) == 0:
            raise ForensicsError("forensics.error.no_official", file=store.path.name)
        result = analyse(
            official, observed if len(observed) else None, level=args.level, options=options, population=population
        )
        template = store.template
    finally:
        store.close()
    meta = {
        "file": Path(args.hq).name,
        "template": template.id,
        "election": template.names.get(current_language()),
        "official_stations": len(official),
        "observed_stations": len(observed),
        "level": args.level,
    }
    files = output_files(result, meta)
    if args.format == "json":
        print(files["forensics.json"])
    else:
        print(render_text(result, template, current_language(), official=len(official), observed=len(observed)), end="")
    if args.out:
        written = write_outputs(files, args.out)
        message = tr("forensics.cli.written", dir=str(Path(args.out)), files=", ".join(p.name for p in written))
        # JSON on stdout stays machine-readable: the note goes to stderr.
        print(message, file=sys.stderr if args.format == "json" else sys.stdout)
    return 0
