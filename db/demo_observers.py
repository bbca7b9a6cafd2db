"""The demo's observers: each fills a station file the way the app would.

Observers at ~2% of stations count voters at the door, note the commission's
announced turnout at each reporting time, copy the protocol, record spoiled
ballots, checklists and violations (some with photos). Every choice comes from
the generator the caller passes, drawn in a fixed order, so a seed gives the
same files; :mod:`db.demo` signs and packs them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import Connection, insert

from db import models as m
from db.demo_election import _Election
from db.store import ElectionStore
from observer.regions import Region, utc_offset_hours
from observer.template import ElectionTemplate

ELECTION_DAY = datetime(2021, 1, 10, tzinfo=UTC)
ORGANISATION = "Демо: Жас сайлаушылар лигасы"
_OPEN, _CLOSE = 7.0, 21.5  # the hours (local) the checklists and the count are written at

_FIRST = (
    "Айгүл",
    "Болат",
    "Дана",
    "Ерлан",
    "Жанар",
    "Асхат",
    "Мадина",
    "Нұрлан",
    "Салтанат",
    "Тимур",
    "Әлия",
    "Қайрат",
    "Гүлнар",
    "Арман",
    "Аружан",
    "Данияр",
    "Сәуле",
    "Ержан",
    "Динара",
    "Бауыржан",
)
_LAST = ("Қасым", "Ахмет", "Сейтқали", "Омар", "Жұмабай", "Нұрғали", "Сәрсен", "Төлеген", "Әбдір", "Серік")
_VIOLATIONS = (
    "OBS_BLOCK",
    "PHOTO_BAN",
    "STUFF",
    "CAROUSEL",
    "PROTOCOL_NOT_POSTED",
    "GROUP",
    "SECRECY",
    "PRESSURE",
    "BUSSING",
    "OBS_REMOVE",
    "COUNT",
)


def _photo(path: Path, lines: list[str], taken: datetime, rng: np.random.Generator) -> None:
    """A small JPEG with the scene described in text and the camera's EXIF time."""
    colour = tuple(int(c) for c in rng.integers(60, 200, 3))
    img = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 620, 460), outline=(255, 255, 255), width=3)
    for i, text in enumerate(lines):
        draw.text((40, 40 + 28 * i), text, fill=(255, 255, 255))
    exif = img.getexif()
    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif[306] = stamp  # DateTime
    exif.get_ifd(0x8769)[36867] = stamp  # DateTimeOriginal
    img.save(path, "JPEG", quality=70, exif=exif.tobytes())


def _local(day: datetime, region: Region, hour: float) -> datetime:
    """Election-day local time ``hour`` (7.5 = 07:30) as aware UTC."""
    return day + timedelta(hours=hour - utc_offset_hours(region.code, day))


@dataclass(frozen=True)
class _Visit:
    """One observer at one station on election day: what every row they write carries."""

    station_id: str
    observer_id: str | None
    region: Region

    def at(self, hour: float) -> datetime:
        return _local(ELECTION_DAY, self.region, hour)

    def row(self, stamp: datetime, **values: Any) -> dict[str, Any]:
        """A new row of this observer at this station, created and last changed at ``stamp``."""
        return {
            "id": m.new_id(),
            "station_id": self.station_id,
            "observer_id": self.observer_id,
            "created_at": stamp,
            "updated_at": stamp,
            **values,
        }


def _observer_file(
    blank: Path,
    target: Path,
    template: ElectionTemplate,
    e: _Election,
    i: int,
    name: str,
    figures: dict[str, int],
    rng: np.random.Generator,
    scratch: Path,
) -> ElectionStore:
    """One observer's station file, filled the way the app would, in a few transactions."""
    shutil.copyfile(blank, target)
    store = ElectionStore.open(target)
    store.set_observer(name, ORGANISATION)
    st = store.upsert_station(e.codes[i], e.regions[i].code, e.districts[i], e.addresses[i], int(e.registered[i]))
    store.select_station(st.id)
    visit = _Visit(st.id, store.observer_id, e.regions[i])
    with store.engine.begin() as conn:
        _count_the_day(conn, visit, template, e, i, rng)
    pid = store.protocol_id(st.id, "posted_copy")
    with store.engine.begin() as conn:
        _write_the_count(conn, visit, template, pid, figures, rng)
    if rng.random() < 0.7:
        shot = scratch / f"protocol-{e.codes[i]}-{rng.integers(1_000_000)}.jpg"
        lines = [f"UIK {e.codes[i]}", "Protocol (posted copy)", *(f"{k}: {v}" for k, v in figures.items())]
        _photo(shot, lines, visit.at(_CLOSE), rng)
        store.add_evidence(st.id, shot, protocol_id=pid)
    if rng.random() < 0.3:
        _report_violations(store, visit, template, e.codes[i], rng, scratch)
    return store


def _count_the_day(
    conn: Connection, visit: _Visit, template: ElectionTemplate, e: _Election, i: int, rng: np.random.Generator
) -> None:
    """Voters counted at the door, and the commission's announced turnout at each reporting time."""
    # Early and mobile-box voters never pass the observer.
    counted = int(e.true["issued"][i] - e.true["issued_outside"][i])
    counted = max(0, counted + int(rng.integers(-3, 4)))
    # Arrivals follow a two-hump day: a morning and an after-work peak.
    hours = np.sort(
        np.concatenate([rng.normal(10.5, 1.6, counted // 2), rng.normal(17.0, 1.5, counted - counted // 2)])
    )
    hours = np.clip(hours, 7.0, 19.99)
    if len(hours):
        stamps = (visit.at(float(h)) for h in hours)
        conn.execute(insert(m.HeadcountEvent), [visit.row(t, at=t, delta=1) for t in stamps])
    official_issued = int(e.official["issued"][i])
    true_issued = int(e.true["issued"][i])
    reports = []
    for slot in template.reporting_times:
        hh = int(slot[:2]) + int(slot[3:]) / 60
        seen = int(np.searchsorted(hours, hh))
        share = seen / counted if counted else 0.0
        # The commission's announced figure runs ahead of the count as the official total does.
        announced = int(
            round(share * official_issued + (official_issued - true_issued) * min(1.0, (hh - 7) / 13) * 0.3)
        )
        reports.append(visit.row(visit.at(hh), slot=slot, announced=min(announced, official_issued), observed=seen))
    conn.execute(insert(m.TurnoutReport), reports)


def _write_the_count(
    conn: Connection,
    visit: _Visit,
    template: ElectionTemplate,
    protocol_id: str,
    figures: dict[str, int],
    rng: np.random.Generator,
) -> None:
    """The protocol copied at the close, spoiled ballots by reason, and the checklists' answers."""
    t_close = visit.at(_CLOSE)
    # A protocol's value names its protocol, not the station.
    values = [
        {
            "id": m.new_id(),
            "protocol_id": protocol_id,
            "key": k,
            "value": int(v),
            "observer_id": visit.observer_id,
            "created_at": t_close,
            "updated_at": t_close,
        }
        for k, v in figures.items()
    ]
    conn.execute(insert(m.ProtocolValue), values)
    # Spoiled/invalid ballots by reason: most blank or written on in protest (MISK 2021).
    reasons = [r.code for r in template.spoiled_reasons]
    split = rng.multinomial(int(figures.get("invalid", 0)), _reason_weights(reasons))
    spoiled = [visit.row(t_close, reason=r, count=int(c)) for r, c in zip(reasons, split)]
    conn.execute(insert(m.SpoiledCount), spoiled)
    t_open = visit.at(_OPEN)
    answers = [
        visit.row(t_open, checklist=checklist, question=q.key, answer="yes" if rng.random() < 0.85 else "no", note="")
        for checklist, questions in (("opening", template.opening_checklist), ("closing", template.closing_checklist))
        for q in questions
    ]
    if answers:
        conn.execute(insert(m.ChecklistAnswer), answers)


def _report_violations(
    store: ElectionStore, visit: _Visit, template: ElectionTemplate, code: str, rng: np.random.Generator, scratch: Path
) -> None:
    """One to three violations through the store, as the observer saves them, half with a photo."""
    for _ in range(int(rng.integers(1, 4))):
        category = _VIOLATIONS[int(rng.integers(len(_VIOLATIONS)))]
        when = visit.at(float(rng.uniform(7.0, 21.0)))
        known = template.category(category)
        vid = store.save_violation(
            visit.station_id,
            category=category,
            occurred_at=when,
            description=f"Демо: {known.labels.get('ru') if known else category}",
            severity=("low", "medium", "high")[int(rng.integers(3))],
            action="remark_to_commission" if rng.random() < 0.5 else "none",
        )
        if rng.random() < 0.5:
            shot = scratch / f"violation-{code}-{rng.integers(1_000_000)}.jpg"
            _photo(shot, [f"UIK {code}", category, when.isoformat()], when, rng)
            store.add_evidence(visit.station_id, shot, violation_id=vid)


def _reason_weights(reasons: list[str]) -> np.ndarray:
    w = np.array([{"BLANK": 4.0, "WRITTEN": 3.0, "MULTIPLE": 1.5, "TORN": 1.0}.get(r, 0.5) for r in reasons])
    return w / w.sum()


def _observed_figures(e: _Election, i: int, template: ElectionTemplate, rng: np.random.Generator) -> dict[str, int]:
    """The observer's protocol: the true count, with the odd slip of a vote or two in the party lines."""
    out = {k: int(e.true[k][i]) for k in template.all_keys}
    for p in template.party_keys:
        if rng.random() < 0.1:
            out[p] = max(0, out[p] + int(rng.integers(-2, 3)))
    out["valid"] = sum(out[p] for p in template.party_keys)
    out["in_boxes"] = out["valid"] + out["invalid"]
    return out
