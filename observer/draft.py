"""Drafting a template and a column mapping from a results file's header (`template new --from-csv`).

Writing a template and a mapping by hand for a 30-column CSV is the main barrier
for an analyst, so Baqylau guesses: station columns (region, territorial and
precinct commission, code) from their names, protocol lines from the usual
Russian and Kazakh wording, every other numeric column as a party or candidate,
and control relations only where they hold on at least 99% of the rows. Every
guess carries a ``CONFIRM`` comment; ``template check`` lists the ones left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from observer.csvio import CsvTable, parse_count, plain_digits
from observer.i18n import tr
from observer.units import fold

MARK = "CONFIRM"  # the word every guess carries; `template check` lists the lines that still have it
HOLDS = 0.99  # a control relation is proposed only when it holds on this share of the rows
SAMPLE_ROWS = 2000  # rows looked at to decide whether a column holds numbers

# (line key, words in its header): first match wins, so the narrower wording comes first.
_LINE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("absentee", ("открепительн", "absentee")),
    ("issued_outside", ("вне помещени", "үй-жайдан тыс", "outside")),
    ("issued_early", ("досрочно", "мерзімінен бұрын", "early")),
    ("issued_station", ("в помещении", "үй-жайда", "at the station")),
    ("in_mobile", ("переносн", "көшпелі", "mobile")),
    ("in_stationary", ("стационарн", "stationary")),
    ("unaccounted", ("не учтен", "есепке алынбаған", "unaccounted")),
    ("lost", ("утраченн", "жоғалған", "lost")),
    ("cancelled", ("погашенн", "неиспользованн", "пайдаланылмаған", "жойылған", "cancelled", "unused")),
    ("invalid", ("недействительн", "жарамсыз", "invalid")),
    ("valid", ("действительн", "жарамды", "valid")),
    ("in_boxes", ("в урн", "в ящик", "жәшіктерден", "жәшікте", "in the box", "found in")),
    ("issued", ("выданн", "получивших", "бюллетень алған", "берілген бюллетен", "issued")),
    ("received", ("полученн", "алынған", "received")),
    ("registered", ("включенн", "в список", "в списк", "тізім", "registered", "число избирателей")),
)
# Station columns: short headers only ("Число ... участковой комиссией" is a line, "УИК" a station).
_STATION_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tik", ("тик", "тизк", "тск", "территориальн", "аумақтық", "tik", "tec")),
    ("uik", ("уик", "участок", "участка", "учаске", "учаскесі", "uik", "pec", "precinct", "station")),
    ("region", ("регион", "субъект", "область", "облыс", "өңір", "region", "oblast")),
    ("district", ("район", "аудан", "district")),
    ("address", ("адрес", "мекенжай", "address")),
    ("code", ("код", "code", "номер", "№", "id")),
)
_SHORT_HEADER = 40
_KK_LETTERS = set("әғқңөұүһі")
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya a g q n o u u h i".split(),
        strict=True,
    )
)


@dataclass
class Column:
    """One column of the file and what the draft makes of it."""

    index: int
    header: str
    numeric: bool
    role: str = ""  # "station:<field>", "line:<key>", "party:<key>" or "" (left out)
    note: str = ""


@dataclass
class Draft:
    template: str
    mapping: str
    columns: list[Column] = field(default_factory=list)
    relations: list[tuple[str, float, int]] = field(default_factory=list)  # expression, share, rows


def header_language(header: Sequence[str]) -> str:
    text = fold(" ".join(header))
    if _KK_LETTERS & set(text):
        return "kk"
    return "ru" if re.search("[а-я]", text) else "en"


def slug(text: str, fallback: str) -> str:
    """A template key from a column name: transliterated, a-z 0-9 _, starting with a letter, <= 40 chars."""
    latin = "".join(_TRANSLIT.get(ch, ch) for ch in fold(text)).replace("-", "")  # ъ and ь leave no letter
    key = re.sub(r"[^a-z0-9]+", "_", latin).strip("_")[:40].strip("_")
    return key if re.match(r"^[a-z]", key) else fallback


def _is_numeric(cells: Sequence[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    if not filled:
        return False
    good = 0
    for cell in filled:
        try:
            parse_count(cell)
            good += 1
        except ValueError:
            pass
    return good >= 0.95 * len(filled)


def _rule(header: str, rules: Sequence[tuple[str, tuple[str, ...]]], *, words: bool) -> str:
    folded = fold(header)
    tokens = set(re.findall(r"[\w№]+", folded))
    for key, needles in rules:
        for needle in needles:
            if (needle in tokens) if words and len(needle) <= 4 else needle in folded:
                return key
    return ""


def classify(table: CsvTable) -> list[Column]:
    """Every column with its guessed role."""
    sample = table.rows[:: max(1, len(table.rows) // SAMPLE_ROWS)][:SAMPLE_ROWS]
    out: list[Column] = []
    used: set[str] = set()  # line and party keys share one name space
    stations: set[str] = set()
    for i, header in enumerate(table.header):
        col = Column(i, header, _is_numeric([r[i] if i < len(r) else "" for r in sample]))
        station = _rule(header, _STATION_RULES, words=True) if len(header) <= _SHORT_HEADER else ""
        line = _rule(header, _LINE_RULES, words=False) if col.numeric else ""
        if station and (not col.numeric or not line):
            col.role = f"station:{station}" if station not in stations else ""
            stations.add(station)
        elif col.numeric:
            base = line or slug(header, f"party_{i + 1}")
            key, n = base, 1
            while key in used or key == "absentee":
                key, n = f"{base}_{n}", n + 1
            used.add(key)
            col.role = f"line:{key}" if line else f"party:{key}"
        out.append(col)
    return out


def station_key(table: CsvTable, columns: Sequence[Column]) -> tuple[list[Column], int]:
    """The columns that identify a station, and how many rows repeat a key even so.

    The precinct number alone when it is unique; else with the territorial commission
    and the region before it (Russia numbers precincts within a region), as unique
    together as the file allows.
    """
    by_role = {c.role.split(":", 1)[1]: c for c in columns if c.role.startswith("station:")}
    own = by_role.get("uik") or by_role.get("code")
    if own is None:
        return [], len(table.rows)
    candidates = [[own]]
    for extra in (("region", "tik"), ("region",), ("tik",), ("region", "district")):
        if all(e in by_role for e in extra):
            candidates.append([*(by_role[e] for e in extra), own])
    best: tuple[list[Column], int] = ([own], len(table.rows))
    for parts in candidates:
        keys = set(zip(*(map(str.strip, table.column(c.index)) for c in parts)))
        repeats = len(table.rows) - len(keys)
        if repeats < best[1]:
            best = (parts, repeats)
        if repeats == 0:
            break
    return best


def _matrix(table: CsvTable, columns: Sequence[Column]) -> dict[str, np.ndarray]:
    """The numeric columns' values by key, -1 where empty or not a count."""
    out: dict[str, np.ndarray] = {}
    for col in columns:
        if not col.role.startswith(("line:", "party:")):
            continue
        cells = table.column(col.index)
        try:  # the usual column: plain digits, converted in C
            fast = np.array(cells, dtype=np.int64)
            if plain_digits(cells) and (len(fast) == 0 or fast.min() >= 0):
                out[col.role.split(":", 1)[1]] = fast
                continue
        except (ValueError, OverflowError):
            pass
        values = np.full(len(table.rows), -1, dtype=np.int64)
        for i, cell in enumerate(cells):
            try:
                v = parse_count(cell)
            except ValueError:
                continue
            if v is not None and v < 2**62:
                values[i] = v
        out[col.role.split(":", 1)[1]] = values
    return out


def _candidates(lines: set[str]) -> list[tuple[list[str], str, list[str]]]:
    """Control relations worth trying with the lines found: (left keys, operator, right keys)."""
    issued: list[str] = [k for k in ("issued_early", "issued_station", "issued_outside") if k in lines] or (
        ["issued"] if "issued" in lines else []
    )
    boxes: list[str] = [k for k in ("in_mobile", "in_stationary") if k in lines] or (
        ["in_boxes"] if "in_boxes" in lines else []
    )
    out: list[tuple[list[str], str, list[str]]] = []
    if issued and "registered" in lines:
        out.append((["registered"], ">=", issued))
    if issued and "received" in lines and "cancelled" in lines:
        spent = [*issued, "cancelled", *(["lost"] if "lost" in lines else [])]
        out.append((["received"], "==", spent))
    if boxes and "valid" in lines and "invalid" in lines:
        out.append((boxes, "==", ["valid", "invalid"]))
    if boxes and issued:
        out.append((boxes, "<=", issued))
    if "valid" in lines:
        out.append((["valid"], "==", ["parties"]))
    return out


def relations(values: dict[str, np.ndarray], parties: Sequence[str]) -> list[tuple[str, float, int]]:
    """The candidate relations that hold on at least HOLDS of the rows where every figure is given."""
    found: list[tuple[str, float, int]] = []
    if parties:
        values = values | {"parties": np.sum([values[p] for p in parties], axis=0)}
        given = np.all([values[p] >= 0 for p in parties], axis=0)
    for left, op, right in _candidates({k for k in values if k not in parties}):
        keys = [k for k in (*left, *right) if k != "parties"]
        mask = np.all([values[k] >= 0 for k in keys], axis=0) if keys else np.ones(1, dtype=bool)
        if "parties" in right or "parties" in left:
            mask = mask & given
        rows = int(mask.sum())
        if rows == 0:
            continue
        a = np.sum([values[k][mask] for k in left], axis=0)
        b = np.sum([values[k][mask] for k in right], axis=0)
        ok = {"==": a == b, ">=": a >= b, "<=": a <= b}[op]
        share = float(ok.mean())
        if share >= HOLDS:
            text = f"{' + '.join(left)} {op} {' + '.join('sum(parties)' if k == 'parties' else k for k in right)}"
            found.append((text, share, rows))
    return found


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _terms(lines: set[str]) -> dict[str, tuple[str, str]]:
    """Turnout and result bases from the lines found: (expression, why) for each."""

    def first(*options: str) -> str:
        return next((o for o in options if all(k in lines for k in o.replace(" ", "").split("+"))), "")

    issued = " + ".join(k for k in ("issued_early", "issued_station", "issued_outside") if k in lines)
    boxes = " + ".join(k for k in ("in_mobile", "in_stationary") if k in lines)
    fallback = sorted(lines)[0]
    voted = (
        first(issued, "issued", boxes, "in_boxes", "valid + invalid")
        if issued
        else first("issued", boxes, "in_boxes", "valid + invalid")
    )
    cast = first(boxes, "in_boxes", "valid + invalid") if boxes else first("in_boxes", "valid + invalid")
    return {
        "turnout.voted": (voted or fallback, "who counts as having voted"),
        "turnout.registered": (first("registered") or fallback, "the base of turnout"),
        "results.share_base": (first("valid") or cast or "sum(parties)", "party share = votes / this"),
        "results.ballots_cast": (cast or voted or fallback, "base of the invalid share"),
        "results.invalid": (first("invalid") or "0", "invalid ballots"),
    }


def make_draft(table: CsvTable, *, template_id: str, date: str = "", country: str = "") -> Draft:
    """The template and mapping texts for ``table``, every guess marked ``# CONFIRM``."""
    columns = classify(table)
    lang = header_language(table.header)
    key_cols, repeats = station_key(table, columns)
    values = _matrix(table, columns)
    parties = [c.role.split(":", 1)[1] for c in columns if c.role.startswith("party:")]
    lines = {c.role.split(":", 1)[1] for c in columns if c.role.startswith("line:")}
    found = relations(values, parties)
    draft = Draft(_template_text(table, columns, lang, found, template_id, date, country), "", columns, found)
    draft.mapping = _mapping_text(table, columns, key_cols, repeats, template_id)
    if not lines or not parties:
        draft.template += (
            f"\n# {MARK}: found {len(lines)} protocol lines and {len(parties)} parties; a template needs both.\n"
        )
    return draft


def _template_text(
    table: CsvTable,
    columns: Sequence[Column],
    lang: str,
    found: Sequence[tuple[str, float, int]],
    template_id: str,
    date: str,
    country: str,
) -> str:
    lines = {c.role.split(":", 1)[1] for c in columns if c.role.startswith("line:")}
    region = next((c.header for c in columns if c.role == "station:region"), "")
    out = [
        f"# Drafted by `baqylau template new --from-csv {table.name}` from its header ({len(table.rows)} rows).",
        f"# Every line marked {MARK} is a guess: check it, then delete the marker.",
        "# `baqylau template check FILE` lists the markers left. Format: docs/templates.md.",
        "format = 1",
        f"id = {_q(template_id)}  # {MARK}: a short name, a-z 0-9 . _ -",
        f"date = {_q(date)}  # {MARK}: election day, YYYY-MM-DD",
        f"country = {_q(country)}  # {MARK}: ISO code (KZ uses the built-in regions of Kazakhstan)",
        "",
        "[name]",
        f"{lang} = {_q(table.name)}  # {MARK}: the election's name (ru, kk, en)",
        "",
        "[units]",
        *(
            ['file = "kz"  # the regions of Kazakhstan with their dates (resources/units/kz.toml)']
            if country.upper() == "KZ"
            else []
        ),
        f"national = {{ {lang} = {_q(tr('units.national.default', lang))} }}  # {MARK}: what the whole-country row is called",
    ]
    if region and country.upper() != "KZ":
        out.append(f"# No units list: the regions are the names in «{region}», as the file writes them.")
    out += ["", "[turnout]"]
    terms = _terms(lines) if lines else {}
    for where, (expr, why) in terms.items():
        if where.startswith("turnout."):
            out.append(f"{where.split('.')[1]} = {_q(expr)}  # {MARK}: {why}")
    out += ["reporting_times = []", "", "[results]"]
    for where, (expr, why) in terms.items():
        if where.startswith("results."):
            out.append(f"{where.split('.')[1]} = {_q(expr)}  # {MARK}: {why}")
    out.append(f"threshold_pct = 0  # {MARK}: seat threshold in percent, 0 if none")
    for col in columns:
        kind, _, key = col.role.partition(":")
        if kind in ("line", "party"):
            what = "a protocol line" if kind == "line" else "a party or candidate"
            out += [
                "",
                "[[lines]]" if kind == "line" else "[[parties]]",
                f"key = {_q(key)}  # {MARK}: {what}, from column «{col.header}»",
            ]
            out.append(f"{lang} = {_q(col.header[:200])}")
    for expr, share, rows in found:
        out += ["", "[[checks]]", f"expr = {_q(expr)}  # {MARK}: holds on {share * 100:.1f}% of {rows} rows"]
    return "\n".join(out) + "\n"


def _mapping_text(
    table: CsvTable, columns: Sequence[Column], key_cols: Sequence[Column], repeats: int, template_id: str
) -> str:
    out = [
        f"# Columns of {table.name} for template {template_id}: drafted, every {MARK} line is a guess.",
        f"encoding = {_q('cp1251' if table.encoding == 'cp1251' else 'auto')}",
        f"delimiter = {_q(table.delimiter)}",
        "",
        "[station]",
    ]
    if key_cols:
        note = "identify a station" + (f"; {repeats} rows still repeat a key" if repeats else "")
        parts = ", ".join(_q(c.header) for c in key_cols)
        out.append(f"code = [{parts}]  # {MARK}: the columns that together {note}")
    else:
        out.append(f'code = ""  # {MARK}: no column looks like a station number; name it here')
    for col in columns:
        kind, _, name = col.role.partition(":")
        if kind == "station" and name in ("region", "district", "address"):
            out.append(f"{name} = {_q(col.header)}  # {MARK}")
    for kind in ("line", "party"):
        out += ["", "[parties]" if kind == "party" else "[lines]"]
        out += [f"{c.role.split(':', 1)[1]} = {_q(c.header)}" for c in columns if c.role.startswith(f"{kind}:")]
    left = [c.header for c in columns if not c.role]
    if left:
        out += ["", "# Left out (neither station nor numbers): " + ", ".join(f"«{h}»" for h in left)]
    return "\n".join(out) + "\n"


def open_questions(text: str) -> list[tuple[int, str]]:
    """The lines of a drafted file that still carry the CONFIRM marker: (line number, the line)."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if f"# {MARK}" in line]
