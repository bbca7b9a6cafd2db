"""`baqylau forensics HQ.db [--level national|region] [--format table|json] [--out DIR]`.

The analysis itself is the service :func:`db.services.forensics.run_forensics` (the GUI
and the report call it too); this module prints its view as text and writes
the JSON and CSV files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from db.services.forensics import party_namer, run_forensics
from db.store import ElectionStore
from observer.forensics import NATIONAL, ForensicsError, ForensicsResult, Options, to_plain
from observer.forensics.present import Chart, ForensicsView, Grid, Text, present
from observer.i18n import current_language, tr
from observer.template import ElectionTemplate

# ---------------------------------------------------------------------------
# text


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> list[str]:
    """A plain-text table: the label columns left-aligned, the figures right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < numeric_from else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


_MARK = {"warning": "!! ", "subhead": "", "caveat": "", "note": "", "body": ""}


def view_text(view: ForensicsView, election: str) -> str:
    """The view as the command line prints it: numbered sections, indented tables and notes (no charts)."""
    out = [f"{view.title} — {election}", view.summary]
    for number, section in enumerate(view.sections, 1):
        out += ["", f"{number}. {section.title}"]
        for block in section.blocks:
            if isinstance(block, Grid):
                out += ["  " + line for line in _grid(block.headers, block.rows, block.numeric_from)]
            elif isinstance(block, Text):
                out.append("  " + _MARK.get(block.kind, "") + block.text + (":" if block.kind == "subhead" else ""))
            elif isinstance(block, Chart):
                continue  # charts belong to the report and the GUI
    return "\n".join(out) + "\n"


def render_text(result: ForensicsResult, template: ElectionTemplate, lang: str | None = None) -> str:
    """The whole result as the command line prints it."""
    lang = lang or current_language()
    return view_text(present(result, lang, party_namer(template, lang)), template.names.get(lang))


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
    for part in (_histogram_files, _test_files, _pvt_files, _comparison_files):
        files.update(part(result))
    return files


def _histogram_files(result: ForensicsResult) -> dict[str, str]:
    """The fingerprint grid and the turnout histograms."""
    files: dict[str, str] = {}
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
    return files


def _test_files(result: ForensicsResult) -> dict[str, str]:
    """The integer-percentage and digit tests."""
    files: dict[str, str] = {}
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
    return files


def _pvt_files(result: ForensicsResult) -> dict[str, str]:
    """The parallel vote tabulation (nothing without observed stations)."""
    files: dict[str, str] = {}
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
    return files


def _comparison_files(result: ForensicsResult) -> dict[str, str]:
    """Observed vs official, the largest gaps and the regions."""
    files: dict[str, str] = {}
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
    store = ElectionStore.open(args.hq)
    try:
        result = run_forensics(store, args.level, Options())
        template = store.template
        name = store.path.name  # the file's name; a PostgreSQL HQ's database name
    finally:
        store.close()
    meta = {
        "file": name,
        "template": template.id,
        "election": template.names.get(current_language()),
        "official_stations": result.official_stations,
        "observed_stations": result.observed_stations,
        "level": args.level,
    }
    files = output_files(result, meta)
    if args.format == "json":
        print(files["forensics.json"])
    else:
        print(render_text(result, template, current_language()), end="")
    if args.out:
        written = write_outputs(files, args.out)
        message = tr("forensics.cli.written", dir=str(Path(args.out)), files=", ".join(p.name for p in written))
        # JSON on stdout stays machine-readable: the note goes to stderr.
        print(message, file=sys.stderr if args.format == "json" else sys.stdout)
    return 0
