"""The one view of a forensics result: sections of sentences, tables and chart slots, every number formatted.

:func:`present` turns a :class:`ForensicsResult` into a :class:`ForensicsView`
in one language, with every figure written by :mod:`observer.fmt`. The command
line (text), the coordinator's tab (HTML) and the PDF report only lay the view
out, so the three print the same numbers the same way and show the same tables,
notes and warnings. Charts are slots (:class:`Chart`): each front end draws them
from the result with its own toolkit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from observer.fmt import Formatter, formatter
from observer.forensics.model import (
    Comparison,
    DigitTest,
    ForensicsResult,
    ObservedExcess,
    PvtEstimate,
    PvtResult,
    RoundCount,
)
from observer.forensics.notes import ALPHA, figure_notes, unit_name, verdict
from observer.forensics.stats import Z95
from observer.i18n import tr

PartyName = Callable[[str], str]


@dataclass(frozen=True)
class Text:
    text: str
    kind: str = "body"  # "body" | "subhead" | "assumption" | "note" (method/sample/uncertainty) | "caveat" | "warning"


@dataclass(frozen=True)
class Grid:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # each column's share of the line (the PDF's column widths)
    numeric_from: int = 1  # columns from here on are right-aligned
    flagged: tuple[int, ...] = ()  # rows to mark: the official figure is outside the interval


@dataclass(frozen=True)
class Chart:
    kind: str  # "fingerprint" | "turnout" | "integer"
    caption: str


Block = Text | Grid | Chart


@dataclass(frozen=True)
class Section:
    anchor: str  # stable id: the PDF's bookmark, the HTML's anchor
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ForensicsView:
    lang: str
    title: str
    summary: str
    intro: str
    leader: str  # the leader's display name
    sections: tuple[Section, ...]


class _Ctx:
    """What every section builder needs: the language, its formatter and the party names."""

    def __init__(self, result: ForensicsResult, lang: str, party_name: PartyName | None) -> None:
        self.r = result
        self.lang = lang
        self.f: Formatter = formatter(lang)
        self.name: PartyName = party_name or (lambda key: key)

    def t(self, key: str, **params: Any) -> str:
        return tr(key, self.lang, **params)

    def heads(self, *keys: str, **params: Any) -> tuple[str, ...]:
        return tuple(self.t(f"forensics.col.{k}", **params) for k in keys)

    def notes(self, figure: Any, keys: Sequence[str] = ("method", "sample", "uncertainty")) -> list[Block]:
        notes = figure_notes(figure, self.lang, self.name)
        out: list[Block] = [Text(notes[k], "note") for k in keys if k in notes]
        if "caveat" in notes:
            out.append(Text(notes["caveat"], "caveat"))
        return out

    def pm(self, value: float, margin: float, digits: int = 2) -> str:
        """A percentage with its margin: 47,24 % ± 0,49."""
        return f"{self.f.pct(value, digits)} ± {self.f.num(margin, digits)}"

    def quantity(self, key: str) -> str:
        return self.t(f"forensics.q.{key}") if key in ("turnout", "invalid", "leader", "either") else self.name(key)


def present(result: ForensicsResult, lang: str, party_name: PartyName | None = None) -> ForensicsView:
    """The whole result as sections in ``lang``: what every front end lays out."""
    c = _Ctx(result, lang, party_name)
    sections = [
        _fingerprint(c),
        _shpilkin(c),
        _integer(c),
        _digits(c),
        _pvt(c),
        _comparison(c),
    ]
    if result.regions:
        sections.append(_regions(c))
    return ForensicsView(
        lang,
        c.t("forensics.title"),
        c.t(
            "forensics.summary",
            leader=c.name(result.leader),
            stations=c.f.integer(result.official_stations),
            observed=c.f.integer(result.observed_stations),
        ),
        c.t("forensics.report.intro"),
        c.name(result.leader),
        tuple(sections),
    )


# ---------------------------------------------------------------------------
# 1-2. fingerprint, Shpilkin and the observers' excess


def _fingerprint(c: _Ctx) -> Section:
    fp = c.r.fingerprint
    rows = tuple(
        (
            f"≥ {c.f.pct(m.threshold, 0)}",
            c.f.integer(m.stations),
            c.pm(m.voters_share, m.voters_se),
            c.pm(m.leader_share, m.leader_se),
        )
        for m in fp.masses
    )
    blocks: list[Block] = [
        Chart("fingerprint", c.t("forensics.chart.fingerprint", leader=c.name(fp.leader))),
        Grid(c.heads("threshold", "stations", "voters_share", "leader_votes"), rows, (0.3, 0.16, 0.27, 0.27)),
        Text(c.t("forensics.line.corr", corr=c.f.num(fp.turnout_leader_corr, 3))),
        *c.notes(fp),
    ]
    return Section("forensics-fp", c.t("forensics.h.fingerprint"), tuple(blocks))


def _shpilkin(c: _Ctx) -> Section:
    dist = c.r.turnout
    blocks: list[Block] = [
        Chart("turnout", c.t("forensics.chart.turnout", leader=c.name(dist.leader))),
        Text(
            c.t(
                "forensics.line.shpilkin",
                mode=c.f.pct(dist.mode_pct),
                ratio=c.f.num(dist.ratio, 3),
                excess=c.f.integer(dist.excess),
                margin=c.f.integer(Z95 * dist.excess_se),
                share=c.f.pct(dist.excess_share),
            )
        ),
        *c.notes(dist),
        *_excess(c, c.r.observed_excess),
    ]
    return Section("forensics-shpilkin", c.t("forensics.h.shpilkin"), tuple(blocks))


def _excess(c: _Ctx, ex: ObservedExcess | None) -> list[Block]:
    """Shpilkin's and the observers' estimates of the leader's excess side by side, with both assumptions."""
    out: list[Block] = [Text(c.t("forensics.h.excess"), "subhead")]
    if ex is None:
        return [*out, Text(c.t("forensics.line.no_sample"))]
    share = 100.0 / ex.official if ex.official > 0 else math.nan
    rows = (
        (
            c.t("forensics.excess.shpilkin"),
            c.f.integer(ex.shpilkin_excess),
            c.f.integer(ex.shpilkin_margin()),
            c.f.pct(ex.shpilkin_excess * share),
        ),
        (
            c.t("forensics.excess.observed", stations=c.f.integer(ex.stations)),
            c.f.integer(ex.excess),
            c.f.integer(ex.margin()),
            c.f.pct(ex.excess * share),
        ),
    )
    heads = c.heads("estimator", "excess_votes", "moe95", "of_official")
    out.append(Grid(heads, rows, (0.4, 0.18, 0.14, 0.28)))
    out.append(Text(c.t("forensics.excess.assume.shpilkin"), "assumption"))
    out.append(Text(c.t("forensics.excess.assume.observed"), "assumption"))
    out.append(
        Text(
            c.t(
                "forensics.line.observed_excess",
                official=c.f.integer(ex.official),
                implied=c.f.integer(ex.implied),
                leader=c.name(ex.leader),
                registered=c.f.integer(ex.registered),
                covered=c.f.pct(ex.covered_share),
            )
        )
    )
    params = {
        "shpilkin": c.f.integer(ex.shpilkin_excess),
        "shpilkin_margin": c.f.integer(ex.shpilkin_margin()),
        "observed": c.f.integer(ex.excess),
        "observed_margin": c.f.integer(ex.margin()),
    }
    if ex.disagree is None:
        out.append(Text(c.t("forensics.excess.unknown")))
    elif ex.disagree:
        out.append(Text(c.t("forensics.excess.disagree", **params), "warning"))
    else:
        out.append(Text(c.t("forensics.excess.agree", **params)))
    return out + c.notes(ex)


# ---------------------------------------------------------------------------
# 3-4. integer percentages and digits


def _integer(c: _Ctx) -> Section:
    r = c.r
    rows = []
    for test in r.integer:
        n = test.national
        rows.append(
            (
                c.quantity(test.quantity),
                c.t(f"forensics.step.{test.step}"),
                c.f.integer(n.stations),
                c.f.integer(n.observed),
                c.f.num(n.expected),
                f"{c.f.integer(n.low)}–{c.f.integer(n.high)}",
                c.f.num(n.ratio, 3),
                c.f.p_value(n.p_value),
                c.f.p_value(n.p_holm),
            )
        )
    ft, fl = r.fine_turnout_hist, r.fine_leader_hist
    caption = c.t(
        "forensics.chart.integer",
        t0=c.f.integer(int(ft[0])),
        t100=c.f.integer(int(ft[-1])),
        l0=c.f.integer(int(fl[0])),
        l100=c.f.integer(int(fl[-1])),
    )
    either = r.integer_test("either", 1)
    heads = c.heads("quantity", "step", "stations", "observed", "expected", "range", "ratio", "p", "p_holm")
    blocks: list[Block] = [
        Chart("integer", caption),
        Grid(heads, tuple(rows), (0.2, 0.13, 0.09, 0.1, 0.1, 0.12, 0.08, 0.09, 0.09), numeric_from=2),
        Text(c.t("forensics.note.holm.integer", tests=c.f.integer(len(r.integer)), alpha=c.f.num(ALPHA, 2))),
        Text(verdict(either, lang=c.lang)),
        *c.notes(either),
    ]
    return Section("forensics-integer", c.t("forensics.h.integer"), tuple(blocks))


def _digits(c: _Ctx) -> Section:
    r = c.r
    if not r.digits:
        return Section("forensics-digits", c.t("forensics.h.digits"), (Text(c.t("forensics.line.no_digits")),))
    rows = tuple(
        (
            c.name(d.party),
            c.t(f"forensics.test.{d.test}"),
            c.f.integer(d.n),
            c.f.num(d.chi2),
            c.f.p_value(d.p_value),
            c.f.p_value(d.p_holm),
            f"{c.f.num(d.mean, 3)} ({c.f.num(d.expected_mean, 3)})",
            c.f.p_value(d.mean_p),
            c.f.pct(d.repeat_share),
        )
        for d in r.digits
    )
    heads = c.heads("party", "test", "n", "chi2", "p", "p_holm", "mean", "mean_p", "repeat")
    blocks: list[Block] = [
        Grid(heads, rows, (0.14, 0.15, 0.09, 0.08, 0.09, 0.09, 0.14, 0.09, 0.13), numeric_from=2),
        Text(c.t("forensics.note.holm.digits", tests=c.f.integer(len(r.digits)))),
    ]
    for test in ("last", "second"):
        first: DigitTest | None = next((d for d in r.digits if d.test == test), None)
        if first is not None:
            blocks += c.notes(first, ("method", "uncertainty"))
    return Section("forensics-digits", c.t("forensics.h.digits"), tuple(blocks))


# ---------------------------------------------------------------------------
# 5-6. PVT and the comparison


def _inside(c: _Ctx, e: PvtEstimate) -> str:
    return " / ".join(
        "—" if e.inside(lv) is None else c.t("forensics.yes" if e.inside(lv) else "forensics.no") for lv in (0.95, 0.99)
    )


def _pvt(c: _Ctx) -> Section:
    p: PvtResult | None = c.r.pvt
    if p is None:
        return Section("forensics-pvt", c.t("forensics.h.pvt"), (Text(c.t("forensics.line.no_sample")),))
    national = p.national()
    rows = tuple(
        (
            c.quantity(e.quantity),
            c.f.integer(e.stations),
            c.f.pct(e.value, 2),
            c.f.num(e.margin(0.95), 2),
            c.f.num(e.margin(0.99), 2),
            c.f.pct(e.official, 2) if e.official is not None else "—",
            _inside(c, e),
        )
        for e in national
    )
    flagged = tuple(i for i, e in enumerate(national) if e.inside(0.95) is False)
    heads = c.heads("quantity", "stations", "estimate", "moe95", "moe99", "official", "inside")
    blocks: list[Block] = [Grid(heads, rows, (0.24, 0.1, 0.12, 0.1, 0.1, 0.12, 0.22), flagged=flagged)]
    if c.r.level == "region":
        blocks.append(_pvt_regions(c, p))
    blocks += [Text(c.t("forensics.note.small"), "note"), *c.notes(p)]
    return Section("forensics-pvt", c.t("forensics.h.pvt"), tuple(blocks))


def _pvt_regions(c: _Ctx, p: PvtResult) -> Grid:
    """Turnout and the leader's share by region: estimate ± margin, official, inside."""
    keys = ["turnout", c.r.leader]
    heads = [c.t("forensics.col.region"), c.t("forensics.col.stations")]
    for key in keys:
        heads += [
            f"{c.quantity(key)}: {c.t('forensics.col.estimate')}",
            c.t("forensics.col.official"),
            c.t("forensics.col.inside"),
        ]
    rows: list[tuple[str, ...]] = []
    flagged: list[int] = []
    codes = sorted({e.unit for e in p.estimates if e.unit != "*"}, key=lambda u: c.f.sort_key(unit_name(u, c.lang)))
    for code in codes:
        by_q = {e.quantity: e for e in p.regional(code)}
        turnout = by_q.get("turnout")
        small = any(e.small_sample for e in by_q.values())
        # A no-break space: the "few stations" mark is never alone on a line.
        row = [
            unit_name(code, c.lang) + ("\u00a0*" if small else ""),
            c.f.integer(turnout.stations if turnout else None),
        ]
        for key in keys:
            e = by_q.get(key)
            row += (
                ["—"] * 3
                if e is None
                else [
                    c.pm(e.value, e.margin(0.95), 1),
                    c.f.pct(e.official, 1) if e.official is not None else "—",
                    _inside(c, e),
                ]
            )
        if any(e.inside(0.95) is False for e in by_q.values() if e.quantity in keys):
            flagged.append(len(rows))
        rows.append(tuple(row))
    return Grid(tuple(heads), tuple(rows), (0.18, 0.08, 0.15, 0.1, 0.11, 0.15, 0.1, 0.13), flagged=tuple(flagged))


def _comparison(c: _Ctx) -> Section:
    comp: Comparison | None = c.r.comparison
    if comp is None:
        return Section("forensics-comparison", c.t("forensics.h.comparison"), (Text(c.t("forensics.line.no_sample")),))
    rows = tuple(
        (
            c.quantity(g.quantity),
            c.f.integer(g.stations),
            c.f.pct(g.official, 2),
            c.f.pct(g.observed, 2),
            c.f.pp(g.gap, 2),
            c.f.num(g.se, 2),
            c.f.pp(g.median_station_gap, 2),
            c.f.integer(g.stations_over_1pp),
            c.f.integer(g.stations_over_5pp),
        )
        for g in comp.gaps
    )
    heads = c.heads("quantity", "stations", "official", "observed", "gap", "se", "median", "over1", "over5")
    s = comp.signs
    blocks: list[Block] = [
        Grid(heads, rows, (0.18, 0.09, 0.11, 0.11, 0.1, 0.07, 0.14, 0.1, 0.1)),
        Text(
            c.t(
                "forensics.line.signs",
                threshold=c.f.pct(s.threshold, 0),
                observed=c.f.pct(s.observed_mass, 2),
                observed_se=c.f.num(s.observed_se, 2),
                unobserved=c.f.pct(s.unobserved_mass, 2),
                unobserved_se=c.f.num(s.unobserved_se, 2),
                p=c.f.p_value(s.p_value),
                turnout_observed=c.f.pct(s.mean_turnout_observed),
                turnout_unobserved=c.f.pct(s.mean_turnout_unobserved),
            )
        ),
    ]
    if s.integer_observed is not None and s.integer_unobserved is not None:
        blocks.append(
            Text(
                c.t(
                    "forensics.line.signs_integer",
                    observed_ratio=c.f.num(s.integer_observed.ratio, 2),
                    observed_p=c.f.p_value(s.integer_observed.p_value),
                    unobserved_ratio=c.f.num(s.integer_unobserved.ratio, 2),
                    unobserved_p=c.f.p_value(s.integer_unobserved.p_value),
                )
            )
        )
    # A list of zero gaps says nothing: only stations where the figures differ are listed.
    differing = [g for g in comp.largest if abs(g.gap) >= 0.05][:10]
    if differing:
        gap_rows = tuple(
            (
                g.code,
                unit_name(g.region, c.lang),
                c.f.pct(g.observed_turnout),
                c.f.pct(g.official_turnout),
                c.f.pp(g.gap),
            )
            for g in differing
        )
        heads = c.heads("station", "region", "observed_turnout", "official_turnout", "gap")
        blocks.append(Grid(heads, gap_rows, (0.14, 0.3, 0.18, 0.18, 0.2), numeric_from=2))
    blocks += c.notes(comp)
    return Section("forensics-comparison", c.t("forensics.h.comparison"), tuple(blocks))


# ---------------------------------------------------------------------------
# by region


def _round_cell(c: _Ctx, rc: RoundCount | None) -> str:
    if rc is None:
        return "—"
    return f"{c.f.num(rc.ratio, 2)} ({c.f.p_value(rc.p_value)} / {c.f.p_value(rc.p_holm)})"


def _regions(c: _Ctx) -> Section:
    r = c.r
    thr = r.options.thresholds[0]
    rows = tuple(
        (
            unit_name(g.region, c.lang),
            c.f.integer(g.stations),
            c.f.pct(g.turnout),
            c.f.pct(g.leader_share),
            c.f.pct(g.high_mass, 2),
            f"{c.f.integer(g.shpilkin_excess)} ({c.f.integer(g.shpilkin_se)})",
            _round_cell(c, g.integer_turnout),
            _round_cell(c, g.integer_leader),
        )
        for g in sorted(r.regions, key=lambda g: c.f.sort_key(unit_name(g.region, c.lang)))
    )
    heads = c.heads("region", "stations", "turnout", "leader") + c.heads("mass", threshold=c.f.pct(thr, 0))
    heads += c.heads("excess", "round_turnout", "round_leader")
    n = len(r.regions)
    blocks: list[Block] = [
        Grid(heads, rows, (0.17, 0.08, 0.09, 0.1, 0.1, 0.14, 0.16, 0.16)),
        Text(
            c.t(
                "forensics.note.regions",
                threshold=c.f.pct(thr, 0),
                tests=c.f.integer(2 * n),
                regions=c.f.integer(n),
                expected=c.f.num(0.05 * n),
            ),
            "note",
        ),
    ]
    return Section("forensics-regions", c.t("forensics.h.regions"), tuple(blocks))
