"""The forensics service: read an HQ file into the arrays :mod:`observer.forensics` works on and run it.

The command line (``db.cli_forensics``), the PDF report (``reports.forensics_section``)
and the coordinator's tab (``ui.coordinator.forensics``) all call :func:`run_forensics`
here, so they analyse the same stations the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from db.aggregate import station_tables
from db.store import ROLE_HQ, ElectionStore
from observer.aggregate import StationArrays, evaluate_term
from observer.forensics import ForensicsError, ForensicsResult, Options, StationReturns, analyse
from observer.template import ElectionTemplate

Tables = tuple[StationArrays, StationArrays]


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
    hq: ElectionStore, tables: Tables | None = None
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
    hq: ElectionStore, level: str = "national", options: Options = Options(), tables: Tables | None = None
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
