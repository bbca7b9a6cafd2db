"""Words: the method, sample and uncertainty of each figure, and a cautious verdict, in any language.

Every number goes through :mod:`observer.fmt`, so the notes read the same in
the command line, the GUI and the PDF report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from observer.fmt import formatter
from observer.forensics.model import (
    NATIONAL,
    Comparison,
    DigitTest,
    Fingerprint,
    IntegerPercentTest,
    ObservedExcess,
    PvtResult,
    Sample,
    TurnoutDistribution,
)
from observer.i18n import current_language, tr
from observer.regions import region_name

ALPHA = 0.01  # the level the verdicts use


def unit_name(code: str, lang: str | None = None) -> str:
    """Display name of a unit: the whole country, a region, or stations without a region."""
    if code == NATIONAL:
        return tr("forensics.national", lang)
    return region_name(code, lang) if code else tr("forensics.region.unknown", lang)


def sample_text(sample: Sample, lang: str | None = None) -> str:
    """Which stations a figure used, as one sentence."""
    f = formatter(lang or current_language())
    # Digit tests count numbers, not voters: they get the shorter sentence.
    return tr(
        "forensics.sample" if sample.voters else "forensics.sample.counts",
        lang,
        source=tr(f"forensics.source.{sample.source}", lang),
        stations=f.integer(sample.stations),
        excluded=f.integer(sample.excluded),
        voters=f.integer(sample.voters),
        rule=tr(sample.rule, lang, cutoff=f.integer(sample.cutoff)),
    )


def figure_notes(
    figure: Any, lang: str | None = None, party_name: Callable[[str], str] | None = None
) -> dict[str, str]:
    """Method, sample and uncertainty of a figure as sentences in ``lang`` (and a caveat for digit tests).

    ``party_name`` maps a party key to its display name (defaults to the key).
    """
    lang = lang or current_language()
    name = party_name or (lambda key: key)
    f = formatter(lang)
    if isinstance(figure, Fingerprint):
        method = tr("forensics.method.fingerprint", lang, leader=name(figure.leader))
        uncertainty = tr("forensics.uncertainty.ratio", lang)
    elif isinstance(figure, TurnoutDistribution):
        method = tr("forensics.method.shpilkin", lang, leader=name(figure.leader), mode=f.pct(figure.mode_pct))
        uncertainty = tr("forensics.uncertainty.shpilkin", lang, se=f.integer(figure.excess_se))
    elif isinstance(figure, IntegerPercentTest):
        method = tr(f"forensics.method.integer.{figure.quantity}", lang, step=f.pct(figure.step, 0))
        uncertainty = tr("forensics.uncertainty.integer", lang)
    elif isinstance(figure, DigitTest):
        return {
            "method": tr(f"forensics.method.digit.{figure.test}", lang, party=name(figure.party)),
            "sample": sample_text(figure.sample, lang),
            "uncertainty": tr("forensics.uncertainty.digit", lang, df=figure.df),
            "caveat": tr(figure.caveat_key, lang),
        }
    elif isinstance(figure, PvtResult):
        return {
            "method": tr("forensics.method.pvt", lang),
            "sample": tr(
                "forensics.sample.pvt",
                lang,
                stations=f.integer(figure.sampled_stations),
                population=f.integer(figure.population_stations),
                strata=f.integer(figure.strata),
                regions=f.integer(figure.regions),
                coverage=f.pct(figure.registered_coverage),
                covered=f.pct(figure.covered_registered_share),
            ),
            "uncertainty": tr("forensics.uncertainty.pvt", lang),
        }
    elif isinstance(figure, ObservedExcess):
        method = tr("forensics.method.observed_excess", lang, leader=name(figure.leader))
        uncertainty = tr("forensics.uncertainty.observed_excess", lang)
    elif isinstance(figure, Comparison):
        method = tr("forensics.method.comparison", lang, threshold=f.pct(figure.signs.threshold, 0))
        uncertainty = tr("forensics.uncertainty.paired", lang)
    else:
        raise TypeError(f"no notes for {type(figure).__name__}")
    return {"method": method, "sample": sample_text(figure.sample, lang), "uncertainty": uncertainty}


def verdict(test: IntegerPercentTest | DigitTest, alpha: float = ALPHA, lang: str | None = None) -> str:
    """One cautious sentence: is the deviation significant once the family of tests is allowed for (Holm)?"""
    f = formatter(lang or current_language())
    p = test.national.p_value if isinstance(test, IntegerPercentTest) else test.p_value
    p_holm = test.national.p_holm if isinstance(test, IntegerPercentTest) else test.p_holm
    decisive = p_holm if math.isfinite(p_holm) else p
    key = "forensics.verdict.significant" if decisive < alpha else "forensics.verdict.not_significant"
    return tr(key, lang, p=f.p_value(p), p_holm=f.p_value(p_holm), alpha=f.num(alpha, 2))
