"""Observers' turnout against the official one, station by station.

Pure numpy over :class:`observer.station_arrays.StationArrays`; the gap has the
one sign of :func:`observer.definitions.gap_pp` (observed minus official).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from observer.station_arrays import MISSING, StationArrays, evaluate_term
from observer.template import ElectionTemplate


@dataclass(frozen=True)
class StationGap:
    """One station's turnout by the observers and by the official result."""

    station_id: str
    code: str
    region: str
    district: str
    observed_turnout_pct: float | None  # from the observed protocol
    headcount_turnout_pct: float | None  # from the observers' own count
    official_turnout_pct: float
    gap_pp: float  # observed (head-count where there is one, else the protocol) minus official (definitions.gap_pp)


def turnout_gaps(template: ElectionTemplate, official: StationArrays, observed: StationArrays) -> list[StationGap]:
    """Observed stations ranked by how far the official turnout exceeds what the observers saw.

    The gap has the one sign of :func:`observer.definitions.gap_pp` (observed minus
    official), so the stations listed first have the most negative gaps.
    """
    pk = template.party_keys
    o_reg, o_reg_ok = evaluate_term(template.registered, observed, pk)
    o_vot, o_vot_ok = evaluate_term(template.voted, observed, pk)
    f_reg, f_reg_ok = evaluate_term(template.registered, official, pk)
    f_vot, f_vot_ok = evaluate_term(template.voted, official, pk)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs_pct = np.where(o_reg_ok & o_vot_ok & (o_reg > 0), 100.0 * o_vot / np.maximum(o_reg, 1), np.nan)
        off_pct = np.where(f_reg_ok & f_vot_ok & (f_reg > 0), 100.0 * f_vot / np.maximum(f_reg, 1), np.nan)
        head = observed.headcount if observed.headcount is not None else np.full(len(observed), MISSING)
        reg_for_head = np.where(o_reg_ok & (o_reg > 0), o_reg, np.where(f_reg_ok, f_reg, observed.registered))
        head_pct = np.where((head >= 0) & (reg_for_head > 0), 100.0 * head / np.maximum(reg_for_head, 1), np.nan)
    own = np.where(np.isnan(head_pct), obs_pct, head_pct)
    seen = (observed.has_figures | (head >= 0)) & official.has_figures & ~np.isnan(off_pct) & ~np.isnan(own)
    gap = own - off_pct
    idx = np.flatnonzero(seen)
    idx = idx[np.argsort(gap[idx], kind="stable")]
    return [
        StationGap(
            str(observed.station_ids[i]),
            str(observed.codes[i]),
            str(observed.regions[i]),
            str(observed.districts[i]),
            None if np.isnan(obs_pct[i]) else float(obs_pct[i]),
            None if np.isnan(head_pct[i]) else float(head_pct[i]),
            float(off_pct[i]),
            float(gap[i]),
        )
        for i in idx
    ]
