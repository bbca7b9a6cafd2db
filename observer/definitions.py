"""The words every figure is counted in: one definition each, used by ``aggregate``, the GUI and the report.

A station of the station list is, for the observers, exactly one of:

* **not observed**: no observer record of any kind;
* **observed** (any record: a protocol, a turnout report, a head-count, a
  violation, a spoiled-ballot tally) but without protocol figures;
* **counted**: its observer protocol counts in the totals (one version, the
  chosen one where versions differed, under the inclusion rules);
* **disputed**: a coordinator marked it disputed: its figures are left out;
* **undecided**: observers' versions differ and nobody has decided yet: left out;
* **excluded**: the inclusion rules leave its figures out (e.g. a protocol
  breaking a control relation when the rules say so).

"Observed" stations are all but the first kind; the stations **with a
protocol** are the last four; **not counted** = disputed + undecided + excluded.
**Coverage** is counted / all stations of the list (and the same over voters).
A **gap** is always *observed minus official* over the same stations, in
percentage points: a negative turnout gap means the official turnout is higher
than what the observers saw.

Pure numpy: :mod:`db.aggregate` builds the arrays, :mod:`observer.aggregate`
sums the statuses per unit, the report and the GUI print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only where arrays are counted: the GUI imports gap_pp before numpy is needed at start-up
    import numpy as np

# Per-station status codes (int8), in the order of the list above.
NOT_OBSERVED = 0
OBSERVED = 1  # a record, but no protocol figures
COUNTED = 2
DISPUTED = 3
UNDECIDED = 4
EXCLUDED = 5
STATUS_NAMES: tuple[str, ...] = ("not_observed", "observed", "counted", "disputed", "undecided", "excluded")


def station_status(
    has_records: np.ndarray,
    counted: np.ndarray,
    disputed: np.ndarray,
    undecided: np.ndarray,
    excluded: np.ndarray,
) -> np.ndarray:
    """One status code per station from the boolean arrays the database read gives.

    A station is counted only if no decision or rule leaves it out; the other
    flags are checked in the order disputed, undecided, excluded so that each
    station has exactly one status and the counts add up.
    """
    import numpy as np

    status = np.where(has_records | counted | disputed | undecided | excluded, OBSERVED, NOT_OBSERVED).astype(np.int8)
    status[excluded] = EXCLUDED
    status[undecided] = UNDECIDED
    status[disputed] = DISPUTED
    status[counted & ~(disputed | undecided | excluded)] = COUNTED
    return status


@dataclass(frozen=True)
class StationCounts:
    """How many stations of a unit fall under each definition; every total is a sum of its parts."""

    total: int  # stations of the station list in the unit
    observed: int  # any observer record
    counted: int
    disputed: int
    undecided: int
    excluded: int
    registered_total: int = 0
    registered_counted: int = 0

    @property
    def not_counted(self) -> int:
        return self.disputed + self.undecided + self.excluded

    @property
    def with_protocol(self) -> int:
        """Stations with observer protocol figures, counted or not."""
        return self.counted + self.not_counted

    @property
    def coverage_pct(self) -> float | None:
        return percent(self.counted, self.total)

    @property
    def coverage_registered_pct(self) -> float | None:
        return percent(self.registered_counted, self.registered_total)

    @classmethod
    def of(cls, status: np.ndarray, registered: np.ndarray | None = None) -> StationCounts:
        """The counts of the stations whose status codes are ``status`` (all of a unit)."""
        import numpy as np

        by = np.bincount(status.astype(np.int64), minlength=len(STATUS_NAMES))
        reg_total = reg_counted = 0
        if registered is not None:
            known = registered >= 0
            reg_total = int(registered[known].sum())
            reg_counted = int(registered[known & (status == COUNTED)].sum())
        return cls(
            total=int(len(status)),
            observed=int(len(status) - by[NOT_OBSERVED]),
            counted=int(by[COUNTED]),
            disputed=int(by[DISPUTED]),
            undecided=int(by[UNDECIDED]),
            excluded=int(by[EXCLUDED]),
            registered_total=reg_total,
            registered_counted=reg_counted,
        )


def percent(part: float, whole: float) -> float | None:
    return 100.0 * float(part) / float(whole) if whole > 0 else None


def gap_pp(observed: float | None, official: float | None) -> float | None:
    """The one gap sign: observed minus official, in percentage points (None if either is missing)."""
    return None if observed is None or official is None else observed - official


__all__ = [
    "COUNTED",
    "DISPUTED",
    "EXCLUDED",
    "NOT_OBSERVED",
    "OBSERVED",
    "STATUS_NAMES",
    "UNDECIDED",
    "StationCounts",
    "gap_pp",
    "percent",
    "station_status",
]
