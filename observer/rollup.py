"""Per-station quantities summed once per district and rolled up to regions and the country.

Every figure of a unit is a sum over its stations (a line, a ratio's numerator or
denominator, a count of stations), so each source is turned once into a matrix of
per-station quantities (:class:`Quantities`), the stations are put in district
order once, each district's run is summed in one pass, and the region and
national rows are sums of district rows: three levels cost one pass over the
stations. :mod:`observer.aggregate` names the quantities and reads the sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from observer.station_arrays import StationArrays, unit_index


def pct(num: float, den: float) -> float | None:
    """A percentage as a plain float (numpy scalars would leak into JSON and comparisons)."""
    return 100.0 * float(num) / float(den) if den > 0 else None


class Quantities:
    """Named per-station quantities, one float64 row each (float64 holds counts exactly).

    Stored as quantities x stations, written in place into one preallocated
    matrix: every row is one contiguous pass, and no temporary copies are made.
    """

    def __init__(self, n: int, capacity: int) -> None:
        self.n = n
        self.index: dict[str, int] = {}
        self._matrix = np.empty((capacity, n), dtype=np.float64)

    def add(self, name: str, values: np.ndarray) -> None:
        row = len(self.index)
        self.index[name] = row
        self._matrix[row] = values  # converts bool/int to float64 while copying

    def matrix(self) -> np.ndarray:
        return self._matrix[: len(self.index)]


def district_sums(matrix: np.ndarray, starts: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(districts x quantities) sums of a quantities x stations matrix whose stations are sorted by district.

    np.add.reduceat adds up each district's run of stations, reading every
    quantity once, in order. With a mask only the chosen stations are gathered
    (few when they are the observed ones) and the run starts are moved to match;
    districts left with no station get 0 (reduceat would repeat a neighbour).
    """
    groups = len(starts)
    if mask is None or mask.all():  # every station (official figures, usually): no copy to gather
        chosen, first = matrix, starts
    else:
        picked = np.flatnonzero(mask)
        chosen, first = matrix[:, picked], np.searchsorted(picked, starts)
    total = chosen.shape[1]
    out = np.zeros((matrix.shape[0], groups))
    if total == 0 or groups == 0:
        return out.T
    sizes = np.diff(np.append(first, total))
    # Starts past the last station belong to empty trailing districts: leave them at 0.
    live = int(np.searchsorted(first, total))
    out[:, :live] = np.add.reduceat(chosen, first[:live], axis=1)
    out[:, sizes == 0] = 0.0
    return out.T


# The arrays a total reads; the text arrays (ids, codes, names) are not reordered.
_NUMERIC_FIELDS = (
    "registered",
    "values",
    "has_figures",
    "headcount",
    "announced",
    "disputed",
    "not_counted",
    "status",
)


@dataclass(frozen=True)
class Grouping:
    """The units of each level, the stations in district order, and how district rows roll up."""

    levels: tuple[str, ...]
    units: dict[str, list[tuple[str, str]]]  # level -> (region, district) of each unit
    order: np.ndarray  # station rows in district order
    starts: np.ndarray  # where each district's run begins in that order
    rollup: dict[str, np.ndarray]  # level -> unit index of each district

    @classmethod
    def of(cls, arrays: StationArrays, levels: Sequence[str]) -> Grouping:
        districts, district_of_station = unit_index(arrays, "district")
        regions = sorted({r for r, _ in districts})
        region_no = {r: i for i, r in enumerate(regions)}
        # Stations in district order, once: every later sum then reads contiguous runs.
        # int16 where the districts fit: numpy sorts it by radix (a tenth of the time for int64).
        small = len(districts) <= np.iinfo(np.int16).max
        order = np.argsort(district_of_station.astype(np.int16) if small else district_of_station, kind="stable")
        return cls(
            levels=tuple(levels),
            units={"national": [("", "")], "region": [(r, "") for r in regions], "district": districts},
            order=order,
            starts=np.searchsorted(district_of_station[order], np.arange(len(districts))),
            rollup={
                "national": np.zeros(len(districts), dtype=np.int64),
                "region": np.array([region_no[r] for r, _ in districts], dtype=np.int64),
                "district": np.arange(len(districts), dtype=np.int64),
            },
        )

    def in_order(self, arrays: StationArrays | None) -> StationArrays | None:
        """The numbers of ``arrays`` in district order, for the sums (see :meth:`sums`).

        The text arrays (ids, codes, names) stay as they were: reordering 100,000
        Python strings costs as much as the sums themselves, and no total reads them.
        """
        if arrays is None:
            return None
        fields = {f: getattr(arrays, f)[self.order] for f in _NUMERIC_FIELDS if getattr(arrays, f) is not None}
        return replace(arrays, **fields)

    def sums(self, q: Quantities, mask: np.ndarray | None) -> dict[str, np.ndarray]:
        """Each level's (units x quantities) sums over the stations where ``mask`` holds (None: all).

        ``q`` and ``mask`` are of arrays put :meth:`in_order`.
        """
        by_district = district_sums(q.matrix(), self.starts, mask)
        return {level: self._roll(by_district, level) for level in self.levels}

    def subset_sums(self, q: Quantities, mask: np.ndarray) -> dict[str, np.ndarray]:
        """What :meth:`sums` gives for ``mask``, from ``q`` of only those stations (``arrays.subset(mask)``).

        For a source whose figures few stations have (the observed ones): its quantities are
        then made for those stations alone, not for every station and mostly thrown away.
        """
        by_district = district_sums(q.matrix(), np.searchsorted(np.flatnonzero(mask), self.starts))
        return {level: self._roll(by_district, level) for level in self.levels}

    def _roll(self, by_district: np.ndarray, level: str) -> np.ndarray:
        out = np.zeros((len(self.units[level]), by_district.shape[1]))
        np.add.at(out, self.rollup[level], by_district)
        return out
