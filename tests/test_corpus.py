"""The hostile input corpus (tests/corpus/): every case through the real entry point.

Each refusal case asserts three things: it is refused, the user reads why in
their language (the Kazakh or Russian catalogue text itself, not a key), and the
HQ file's content is unchanged (every row of every table, before and after; the package log's
line for the refusal, with its reason, aside).
Text cases (SQL and HTML typed into fields) are the opposite: stored verbatim,
printed verbatim in the PDF and shown as plain text in Qt.

Package cases go through ``baqylau merge`` (main.main), CSV cases through
``baqylau official import`` / ``baqylau stations import``, photos through
``ElectionStore.add_evidence`` (the observer app's call). Case ids carry their
number, so ``pytest --collect-only -q tests/test_corpus.py`` counts them.
"""

from __future__ import annotations

import shutil
import sqlite3
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import main
from db.merge import import_keys, merge_packages, revoke_key, trust_key
from db.package import export_hq_package, export_station_package
from db.store import ElectionStore
from observer import i18n
from observer.errors import BaqylauError
from observer.package import FORMAT_VERSION
from observer.signing import KeyPair
from observer.template import builtin_template
from tests.corpus import make_corpus as mc

FILES = mc.STATIC


def _select_all(table: str) -> str:
    """Every row of ``table``; a refusal's line in the package log (db.merge keeps it there) aside."""
    return f'SELECT * FROM "{table}"' + (" WHERE outcome != 'refused'" if table == "packages" else "")


def dump(path: Path, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal dumps mean equal content."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(conn.execute(_select_all(t)).fetchall(), key=repr) for t in tables if t not in skip}
    finally:
        conn.close()


def fragment(key: str, lang: str) -> str:
    """The longest literal piece of a catalogue message (the text between its placeholders)."""
    text = i18n.catalog(lang)[key]
    pieces = [lit for lit, _, _, _ in string.Formatter().parse(text)]
    best = max((p.strip(" .,:;—«»()") for p in pieces), key=len)
    assert len(best) >= 6 and best != i18n.catalog("en")[key], (key, lang)
    return best


# ---- shared material: one base HQ and one real package, built once --------------------


@dataclass
class World:
    root: Path
    template: Any
    base_hq: Path  # closed HQ file with merged data, official results and a station list
    package: Path  # a real, valid station package (station 101)
    keys: KeyPair  # its signer (trusted in base_hq, an insider)
    scratch: Path
    other_pkg: Path  # another observer's package (station 102), merged in base_hq
    other_keys: KeyPair  # its signer, bound to that observer in base_hq
    district_pkg: Path  # a district's HQ package carrying ``package``
    district_keys: KeyPair  # its signer, trusted in base_hq as a district key


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("corpus")
    template = builtin_template("kz-majilis-2021")
    keys = KeyPair.generate()
    station = mc.make_station(root, template, "101")
    try:
        package = export_station_package(station, root / "usb", keys)
    finally:
        station.close()
    other_keys = KeyPair.generate()
    other = mc.make_station(root, template, "102")
    try:
        other_pkg = export_station_package(other, root / "usb-other", other_keys)
    finally:
        other.close()
    district_keys = KeyPair.generate()
    district = ElectionStore.create(root / "district" / "district.baqylau", template, role="hq")
    try:
        district.set_observer("Алматы штабы", "MISK")
        assert merge_packages(district, [package], trust_new_keys=True).counts()["merged"] == 1
        district_pkg = export_hq_package(district, root / "to-org", district_keys)
    finally:
        district.close()
    hq_path = root / "hq" / "hq.baqylau"
    hq = ElectionStore.create(hq_path, template, role="hq")
    try:
        (root / "keys.txt").write_text(f"{keys.public_hex} observer 101\n", encoding="utf-8")
        import_keys(hq, root / "keys.txt", "coordinator")
        trust_key(hq, district_keys.public_hex, "Алматы", "coordinator", role="district")
        assert merge_packages(hq, [other_pkg], trust_new_keys=True).counts()["merged"] == 1
        from db.official import import_official

        good = root / "official.csv"
        good.write_bytes(mc._official(mc._GOOD, "101;KZ-ALA;Алмалинская;1500;900;880;30;850;500;350"))
        import_official(hq, good, FILES / "official.map.toml")
    finally:
        hq.close()
    scratch = root / "scratch"
    scratch.mkdir()
    yield World(root, template, hq_path, package, keys, scratch, other_pkg, other_keys, district_pkg, district_keys)


@pytest.fixture
def hq_copy(world: World, tmp_path: Path) -> Path:
    target = tmp_path / "hq" / "hq.baqylau"
    target.parent.mkdir()
    copy_hq(world.base_hq, target)
    return target


def copy_hq(source: Path, target: Path) -> None:
    """The HQ file and its evidence folder (the photos merged so far are part of its content)."""
    shutil.copyfile(source, target)
    shutil.copytree(source.with_name(source.name + ".evidence"), target.with_name(target.name + ".evidence"))


# ---- the cases ---------------------------------------------------------------------------

Build = Callable[[World, Path], Path]


@dataclass(frozen=True)
class Case:
    name: str
    entry: str  # merge | official | stations | photo
    key: str  # the message the user must read
    build: Build | str  # a static file name, or a builder writing into the given folder
    extra: tuple[str, ...] = ()  # more message keys that must also appear


def static(name: str) -> str:
    return name


def resigned(
    change: Callable[[World], dict[str, bytes | None]] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Build:
    def build(w: World, out: Path) -> Path:
        return mc.resign(
            w.package,
            out / "forged.bqpkg",
            KeyPair.generate() if edit is None or change else w.keys,
            change=change(w) if change else None,
            edit=edit,
        )

    return build


def forged_db(sql: str) -> Build:
    def build(w: World, out: Path) -> Path:
        return mc.resign(
            w.package, out / "forged.bqpkg", w.keys, change={mc.DATA: mc.change_db(w.package, w.scratch, sql)}
        )

    return build


def rezip(transform: Callable[[dict[str, bytes]], list[tuple[str, bytes]]]) -> Build:
    def build(w: World, out: Path) -> Path:
        return mc.write_zip(out / "damaged.bqpkg", transform(mc.members_of(w.package)))  # type: ignore[arg-type]

    return build


def _truncated(w: World, out: Path) -> Path:
    data = w.package.read_bytes()
    (out / "truncated.bqpkg").write_bytes(data[: len(data) * 2 // 3])
    return out / "truncated.bqpkg"


def _flip_evidence(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(n, bytes([d[0] ^ 1]) + d[1:] if n.startswith("evidence/") else d) for n, d in m.items()]


def _grow_evidence(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(n, d + b"\0" if n.startswith("evidence/") else d) for n, d in m.items()]


def _added(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [*m.items(), (f"evidence/{'a' * 64}.jpg", mc.jpeg((10, 10)))]


def _removed(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(n, d) for n, d in m.items() if not n.startswith("evidence/")]


def _edited_manifest(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(n, d.replace(b'"101"', b'"109"') if n == mc.MANIFEST else d) for n, d in m.items()]


def _other_signature(m: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(n, KeyPair.generate().sign(m[mc.MANIFEST]) if n == mc.SIGNATURE else d) for n, d in m.items()]


def _photo(data: bytes, suffix: str = ".jpg") -> Build:
    def build(w: World, out: Path) -> Path:
        return mc.swap_photo(w.package, out / "photo.bqpkg", w.scratch, w.keys, data, suffix)

    return build


def _zip_bomb(w: World, out: Path) -> Path:
    return mc.zip_bomb(w.package, out / "bomb.bqpkg")


def _unknown_key(w: World, out: Path) -> Path:
    """A perfectly valid package signed by a key the coordinator has never seen (its observer
    record names that key, as the exporting app writes it)."""
    new = KeyPair.generate()
    sql = f"UPDATE observers SET public_key = '{new.public_hex}', fingerprint = '{new.fingerprint}';"
    return mc.resign(
        w.package, out / "unknown-key.bqpkg", new, change={mc.DATA: mc.change_db(w.package, w.scratch, sql)}
    )


def _revoked_key(w: World, out: Path) -> Path:
    return shutil.copyfile(w.package, out / "revoked.bqpkg")


def _other_election(w: World, out: Path) -> Path:
    """A consistent package, signed by the trusted observer, but of the 2023 election."""
    data = mc.change_db(w.package, w.scratch, "UPDATE meta SET value='kz-majilis-2023' WHERE key='template_id';")
    return mc.resign(
        w.package,
        out / "2023.bqpkg",
        w.keys,
        change={mc.DATA: data},
        edit=lambda m: m.update(template_id="kz-majilis-2023"),
    )


def _real_bomb(w: World, out: Path) -> Path:
    return mc.real_bomb_png(out / "bomb.png")


def _hundred_mp(w: World, out: Path) -> Path:
    return mc.hundred_megapixels_jpeg(out / "100mp.jpg")


# ---- insiders: packages signed by a key the coordinator trusts ---------------------------

FUTURE = "2099-01-01T00:00:00.000000Z"


def _manifest_of(pkg: Path) -> dict[str, Any]:
    import json

    return json.loads(mc.members_of(pkg)[mc.MANIFEST])


def _victim_resigned(own_key_row: bool) -> Build:
    """Observer B's package, B's figures raised and dated in the future, re-signed by the insider A."""

    def build(w: World, out: Path) -> Path:
        sql = f"UPDATE protocol_values SET value = value + 100, updated_at = '{FUTURE}';"
        if own_key_row:  # the insider also puts their own key on B's observer record
            sql += f"UPDATE observers SET public_key = '{w.keys.public_hex}', fingerprint = '{w.keys.fingerprint}';"
        data = mc.change_db(w.other_pkg, w.scratch, sql)
        return mc.resign(w.other_pkg, out / "victim-resigned.bqpkg", w.keys, change={mc.DATA: data})

    return build


def _insider_db(sql: Callable[[World], str], **added: int) -> Build:
    """The insider's own package with its database changed (``added``: rows added per table), re-signed."""

    def count(m: dict[str, Any]) -> None:
        for table, n in added.items():
            m["counts"][table] += n

    def build(w: World, out: Path) -> Path:
        data = mc.change_db(w.package, w.scratch, sql(w))
        return mc.resign(w.package, out / "insider.bqpkg", w.keys, change={mc.DATA: data}, edit=count)

    return build


def _victim_row(w: World) -> str:
    victim = _manifest_of(w.other_pkg)["observer"]["id"]
    return (
        "INSERT INTO observers (id, name, organisation, created_at, updated_at) "
        f"VALUES ('{victim}', 'Ерлан (подменён)', 'MISK', '{FUTURE}', '{FUTURE}');"
    )


def _other_station(w: World) -> str:
    me = "(SELECT value FROM meta WHERE key = 'self_observer_id')"
    return (
        "INSERT INTO stations (id, code, region, district, address, registered, observer_id, created_at, updated_at) "
        f"VALUES ('00000000-0000-4000-8000-000000000999', '999', 'KZ-ALA', '', '', 900, {me}, '{FUTURE}', '{FUTURE}');"
        "INSERT INTO protocols (id, station_id, source, observer_id, created_at, updated_at) VALUES "
        f"('00000000-0000-4000-8000-000000000998', '00000000-0000-4000-8000-000000000999', 'posted_copy', {me}, "
        f"'{FUTURE}', '{FUTURE}');"
    )


def _hq_from_observer_key(w: World, out: Path) -> Path:
    """The insider's own data, declared a district package and signed with the observer key."""
    return mc.resign(
        w.package, out / "fake-district.bqpkg", w.keys, edit=lambda m: m.update(kind="hq", station_code=None)
    )


def _district_db(
    sql: Callable[[World], str], edit: Callable[[dict[str, Any]], None] | None = None, *, photos: bool = True
) -> Build:
    """The district's package with its database changed (``photos`` False: without its evidence
    files), re-signed by the (trusted) district key."""

    def build(w: World, out: Path) -> Path:
        change: dict[str, bytes | None] = {mc.DATA: mc.change_db(w.district_pkg, w.scratch, sql(w))}
        if not photos:
            change.update({n: None for n in mc.members_of(w.district_pkg) if n.startswith("evidence/")})
        return mc.resign(w.district_pkg, out / "district.bqpkg", w.district_keys, change=change, edit=edit)

    return build


def _forged_inner(w: World) -> str:
    """The carried package's signer rewritten to the other observer's key (its signature no longer verifies)."""
    return (
        f"UPDATE packages SET key_fingerprint = '{w.other_keys.fingerprint}', public_key = '{w.other_keys.public_hex}', "
        f"manifest = CAST(replace(CAST(manifest AS TEXT), '{w.keys.public_hex}', '{w.other_keys.public_hex}') AS BLOB), "
        "sha256 = sha256;"
    )


def _marked_merged(w: World) -> str:
    """A row saying the other observer's real package was already merged (so it would be skipped)."""
    import hashlib

    sha = hashlib.sha256(mc.members_of(w.other_pkg)[mc.MANIFEST]).hexdigest()
    return (
        "INSERT INTO packages (id, sha256, file_name, format_version, kind, station_code, signer_name, outcome, "
        f"reason, created_at, updated_at) VALUES ('00000000-0000-4000-8000-000000000997', '{sha}', "
        f"'{w.other_pkg.name}', 2, 'station', '102', 'Ерлан', 'merged', '', '{FUTURE}', '{FUTURE}');"
    )


def _tampered_duplicate(w: World, out: Path) -> Path:
    """A copy of a package the HQ merged, same signed manifest, one photo byte changed."""
    return mc.write_zip(out / w.other_pkg.name, _flip_evidence(mc.members_of(w.other_pkg)))


def _zeros_bomb(w: World, out: Path) -> Path:
    return mc.zeros_bomb(out / "zeros.bqpkg")


INSIDER_CASES: list[Case] = [
    Case(
        "insider: another observer's package re-signed",
        "merge",
        "package.auth.observer_key_row",
        _victim_resigned(False),
    ),
    Case(
        "insider: another observer's package re-signed, key row too",
        "merge",
        "package.auth.observer_bound",
        _victim_resigned(True),
    ),
    Case(
        "insider: another observer's observers row",
        "merge",
        "package.auth.other_observer_row",
        _insider_db(_victim_row, observers=1),
    ),
    Case(
        "insider: records of another station",
        "merge",
        "package.auth.other_station",
        _insider_db(_other_station, stations=1, protocols=1),
    ),
    Case("insider: hq kind from an observer key", "merge", "package.auth.not_district", _hq_from_observer_key),
    Case("insider: forged inner provenance", "merge", "package.auth.inner_unverified", _district_db(_forged_inner)),
    Case("insider: marking a package merged", "merge", "package.auth.inner_unverified", _district_db(_marked_merged)),
    Case(
        "insider: district package of format 1",
        "merge",
        "package.auth.reexport",
        _district_db(lambda w: "", edit=lambda m: m.update(format_version=1)),
    ),
    Case("insider: tampered duplicate", "merge", "package.error.tampered_copy", _tampered_duplicate),
    Case(
        "insider: impossible date (2021-02-30)",
        "merge",
        "package.error.bad_value",
        _insider_db(lambda w: "UPDATE violations SET occurred_at = '2021-02-30T10:00:00.000000Z';"),
    ),
    Case(
        "insider: description over the limit",
        "merge",
        "package.error.bad_value",
        _insider_db(lambda w: "UPDATE violations SET description = printf('%.20001c', 'x');"),
    ),
    Case("500 x 4 MiB of zeros", "merge", "package.error.bomb_total", _zeros_bomb),
    Case(
        "unsupported compression method",
        "merge",
        "package.error.truncated",
        lambda w, out: mc.unsupported_method(w.package, out / "method97.bqpkg"),
    ),
    Case(
        "broken deflate stream",
        "merge",
        "package.error.truncated",
        lambda w, out: mc.broken_deflate(w.package, out / "deflate.bqpkg"),
    ),
]

BIG = 9223372036854775808  # 2**63: does not fit SQLite's INTEGER, becomes REAL

CASES: list[Case] = [
    # packages: not packages at all, broken archives, unsafe members
    Case("package truncated", "merge", "package.error.truncated", _truncated),
    Case("not a package (program)", "merge", "package.error.not_zip", static("not-a-package.bqpkg")),
    Case("not a package (empty file)", "merge", "package.error.not_zip", static("empty.bqpkg")),
    Case("not a package (photo renamed)", "merge", "package.error.not_zip", static("photo-renamed.bqpkg")),
    Case("zip bomb", "merge", "package.error.bomb", _zip_bomb),
    Case("member with ../ path", "merge", "package.error.bad_name", static("dotdot-member.bqpkg")),
    Case("member with absolute path", "merge", "package.error.bad_name", static("absolute-member.bqpkg")),
    Case("symlink member", "merge", "package.error.symlink", static("symlink-member.bqpkg")),
    # signature, manifest and members
    Case("member changed after signing (hash)", "merge", "package.error.hash_mismatch", rezip(_flip_evidence)),
    Case("member changed after signing (size)", "merge", "package.error.size_mismatch", rezip(_grow_evidence)),
    Case("member added after signing", "merge", "package.error.extra_member", rezip(_added)),
    Case("member removed after signing", "merge", "package.error.missing_member", rezip(_removed)),
    Case("manifest edited after signing", "merge", "package.error.bad_signature", rezip(_edited_manifest)),
    Case("signature by another key", "merge", "package.error.bad_signature", rezip(_other_signature)),
    Case(
        "no signature",
        "merge",
        "package.error.no_signature",
        rezip(lambda m: [(n, d) for n, d in m.items() if n != mc.SIGNATURE]),
    ),
    Case(
        "manifest not JSON",
        "merge",
        "package.error.manifest_json",
        rezip(lambda m: [*((n, d) for n, d in m.items() if n != mc.MANIFEST), (mc.MANIFEST, b"{oops")]),
    ),
    Case(
        "manifest field of the wrong type",
        "merge",
        "package.error.manifest_field",
        resigned(edit=lambda m: m["members"][0].update(size="12")),
    ),
    Case(
        "newer format version",
        "merge",
        "package.error.newer",
        resigned(edit=lambda m: m.update(format_version=FORMAT_VERSION + 1)),
    ),
    Case("valid signature, unknown key", "merge", "package.held.reason", _unknown_key),
    Case("valid signature, revoked key", "merge", "package.error.revoked", _revoked_key),
    Case(
        "package of another election", "merge", "package.error.other_election", lambda w, out: _other_election(w, out)
    ),
    # the embedded SQLite file
    Case(
        "data file not SQLite", "merge", "package.error.not_sqlite", resigned(lambda w: {mc.DATA: b"SQLite? no." * 400})
    ),
    Case(
        "SQLite with a trigger",
        "merge",
        "package.error.schema_object",
        forged_db("CREATE TRIGGER t AFTER INSERT ON meta BEGIN DELETE FROM stations; END;"),
    ),
    Case(
        "SQLite with a view",
        "merge",
        "package.error.schema_object",
        forged_db("CREATE VIEW v AS SELECT * FROM observers;"),
    ),
    Case("SQLite with an extra table", "merge", "package.error.schema", forged_db("CREATE TABLE loot (x TEXT);")),
    Case(
        "SQLite with an extra column",
        "merge",
        "package.error.schema",
        forged_db("ALTER TABLE violations ADD COLUMN payload TEXT;"),
    ),
    Case("SQLite with a dropped table", "merge", "package.error.schema", forged_db("DROP TABLE checklist_answers;")),
    Case(
        "SQLite of an unknown schema revision",
        "merge",
        "package.error.schema",
        forged_db("UPDATE alembic_version SET version_num='9999';"),
    ),
    # figures
    Case(
        "negative figure",
        "merge",
        "package.error.bad_value",
        forged_db("UPDATE protocol_values SET value=-5 WHERE key='valid';"),
    ),
    Case(
        "figure above 2^63",
        "merge",
        "package.error.bad_value",
        forged_db(f"UPDATE protocol_values SET value={BIG} WHERE key='valid';"),
    ),
    Case(
        "huge figure (10^12)",
        "merge",
        "package.error.bad_value",
        forged_db("UPDATE protocol_values SET value=1000000000000 WHERE key='valid';"),
    ),
    Case(
        "non-integer figure (text)",
        "merge",
        "package.error.bad_value",
        forged_db("UPDATE protocol_values SET value='many' WHERE key='valid';"),
    ),
    Case(
        "non-integer figure (12.5)",
        "merge",
        "package.error.bad_value",
        forged_db("UPDATE protocol_values SET value=12.5 WHERE key='valid';"),
    ),
    Case(
        "figure for a line the election has not",
        "merge",
        "package.error.unknown_line",
        forged_db("UPDATE protocol_values SET key='bribes' WHERE key='valid';"),
    ),
    # photos inside packages
    Case(
        "packaged photo that is not an image", "merge", "package.error.bad_photo", _photo(b"#!/bin/sh\nrm -rf /\n" * 40)
    ),
    Case(
        "packaged decompression bomb",
        "merge",
        "package.error.bad_photo",
        _photo(mc.png_claiming(60_000, 60_000), ".png"),
    ),
    Case(
        "packaged 100-megapixel photo",
        "merge",
        "package.error.bad_photo",
        _photo(mc.png_claiming(12_500, 8_000), ".png"),
    ),
    # photos added by an observer
    Case("photo that is not an image", "photo", "error.evidence.not_image", static("not-an-image.jpg")),
    Case("photo: truncated JPEG", "photo", "error.evidence.damaged", static("truncated.jpg")),
    Case("photo: decompression-bomb header", "photo", "error.evidence.bomb", static("bomb-header.png")),
    Case("photo: real decompression bomb", "photo", "error.evidence.bomb", _real_bomb),
    Case("photo: 100 megapixels", "photo", "error.evidence.too_many_pixels", _hundred_mp),
    Case("photo: empty file", "photo", "error.evidence.empty", static("empty.jpg")),
    Case("video that is not a video", "photo", "error.evidence.not_video", static("not-a-video.mp4")),
    # CSVs
    Case(
        "CSV in another encoding than declared",
        "official",
        "coord.csv.undecodable",
        static("official-cp1251-declared-utf8.csv"),
    ),
    Case("CSV in UTF-16", "stations", "coord.csv.binary", static("stations-utf16.csv")),
    Case("CSV missing a mapped column", "official", "coord.map.columns_missing", static("official-missing-column.csv")),
    Case("CSV missing the code column", "stations", "coord.map.columns_missing", static("stations-missing-code.csv")),
    Case(
        "CSV with a duplicate station (official)",
        "official",
        "coord.row.duplicate",
        static("official-duplicate-station.csv"),
    ),
    Case("CSV with a duplicate station (list)", "stations", "coord.row.duplicate", static("stations-duplicate.csv")),
    Case("CSV row with extra cells", "official", "coord.row.long", static("official-extra-cells.csv")),
    Case("CSV with a broken quote", "official", "coord.csv.broken", static("official-broken-quote.csv")),
    Case("CSV negative figure", "official", "coord.row.not_count", static("official-negative.csv")),
    Case("CSV figure above 2^63", "official", "coord.row.too_large", static("official-over-2-63.csv")),
    Case("CSV huge figure", "official", "coord.row.too_large", static("official-huge.csv")),
    Case("CSV fractional figure", "official", "coord.row.not_count", static("official-fraction.csv")),
    Case("CSV figure in words", "official", "coord.row.not_count", static("official-words.csv")),
    Case("CSV unknown region", "stations", "coord.row.unknown_region", static("stations-unknown-region.csv")),
    *INSIDER_CASES,
]
LANGS = ("kk", "ru")
IDS = [f"case{i + 1:02d}of{len(CASES)}-{c.name.replace(' ', '_')}" for i, c in enumerate(CASES)]


def test_corpus_is_complete() -> None:
    """At least 40 cases, every committed file used, and every kind the issue lists present."""
    assert len(CASES) >= 40
    used = {c.build for c in CASES if isinstance(c.build, str)}
    committed = {p.name for p in FILES.iterdir()} - {"official.map.toml", "stations-quotes-newlines.csv"}
    assert committed == used
    names = " ".join(c.name for c in CASES)
    for kind in (
        "truncated",
        "not a package",
        "zip bomb",
        "../",
        "absolute",
        "symlink",
        "hash",
        "added",
        "removed",
        "unknown key",
        "revoked",
        "newer format",
        "trigger",
        "view",
        "negative",
        "2^63",
        "non-integer",
        "not an image",
        "decompression bomb",
        "100 megapixels",
        "truncated JPEG",
        "encoding",
        "missing",
        "duplicate",
        "extra cells",
        "quote",
    ):
        assert kind in names, kind


def _file(case: Case, w: World, out: Path) -> Path:
    if isinstance(case.build, str):
        return shutil.copyfile(FILES / case.build, out / case.build)
    return case.build(w, out)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hostile_input_refused_in_the_users_language(
    case: Case, world: World, hq_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lang = LANGS[CASES.index(case) % 2]  # alternate Kazakh and Russian
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    path = _file(case, world, incoming)

    if case.entry == "photo":
        _check_photo(case, world, path, tmp_path, lang)
        return

    skip: tuple[str, ...] = ()
    if case.key == "package.error.revoked":
        hq = ElectionStore.open(hq_copy)
        revoke_key(hq, world.keys.fingerprint, "coordinator")
        hq.close()
    if case.key == "package.held.reason":
        skip = ("packages", "trusted_keys")  # a held package is logged for review; its data waits
    before = dump(hq_copy, skip)
    evidence_before = sorted(p.name for p in hq_copy.with_name(hq_copy.name + ".evidence").iterdir())

    if case.entry == "merge":
        argv = ["--lang", lang, "merge", str(hq_copy), str(path)]
    elif case.entry == "official":
        argv = [
            "--lang",
            lang,
            "official",
            "import",
            str(hq_copy),
            str(path),
            "--map",
            str(FILES / "official.map.toml"),
        ]
    else:
        argv = ["--lang", lang, "stations", "import", str(hq_copy), str(path)]
    code = main.main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    if case.key == "package.held.reason":
        assert code == 0  # held is not an error: the coordinator decides
    else:
        assert code == 2, text
    assert fragment(case.key, lang) in text, text
    assert path.name in text or case.entry != "merge"
    for key in case.extra:
        assert fragment(key, lang) in text
    assert dump(hq_copy, skip) == before
    assert sorted(p.name for p in hq_copy.with_name(hq_copy.name + ".evidence").iterdir()) == evidence_before
    assert not [p for p in hq_copy.parent.iterdir() if p.name.startswith(".baqylau-")]
    if case.key == "package.held.reason":
        conn = sqlite3.connect(hq_copy)
        assert conn.execute("SELECT outcome FROM packages WHERE file_name = ?", (path.name,)).fetchall() == [("held",)]
        conn.close()


def _check_photo(case: Case, w: World, path: Path, tmp_path: Path, lang: str) -> None:
    store = ElectionStore.create(tmp_path / "station.baqylau", w.template)
    try:
        store.set_observer("Айгүл", "MISK")
        st = store.upsert_station("101", "KZ-ALA", "", "", 1500)
        store.select_station(st.id)
        before = dump(store.path)
        i18n.set_language(lang)
        with pytest.raises(BaqylauError) as err:
            store.add_evidence(st.id, path)
        assert err.value.key == case.key
        assert fragment(case.key, lang) in str(err.value)
        assert path.name in str(err.value)
        assert dump(store.path) == before
        assert not store.evidence_dir.exists() or list(store.evidence_dir.iterdir()) == []
    finally:
        store.close()


# ---- text cases: stored verbatim, shown escaped ----------------------------------------


@pytest.fixture(scope="module")
def hostile_text_hq(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text")
    station = mc.make_station(root, world.template, "<b>555</b>", text=mc.HOSTILE_TEXT)
    try:
        pkg = export_station_package(station, root / "usb", KeyPair.generate())
    finally:
        station.close()
    # A second observer at the same station with other figures: a conflict, so the
    # coordinator's conflict panel shows the station's code too.
    (root / "second").mkdir()
    second = mc.make_station(
        root / "second", world.template, "<b>555</b>", text={**mc.HOSTILE_TEXT, "observer": "Second <i>observer</i>"}
    )
    try:
        sid = second.current_station().id
        second.set_protocol_value(second.protocol_id(sid), "valid", 849)
        pkg2 = export_station_package(second, root / "usb2", KeyPair.generate())
    finally:
        second.close()
    hq_path = root / "hq.baqylau"
    hq = ElectionStore.create(hq_path, world.template, role="hq")
    try:
        report = merge_packages(hq, [pkg, pkg2], trust_new_keys=True)
        assert report.counts()["merged"] == 2
    finally:
        hq.close()
    return hq_path


def test_sql_and_html_in_text_fields_are_stored_verbatim(hostile_text_hq: Path) -> None:
    conn = sqlite3.connect(hostile_text_hq)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        descriptions = {r[0] for r in conn.execute("SELECT description FROM violations")}
        involved = {r[0] for r in conn.execute("SELECT involved FROM violations")}
        names = {r[0] for r in conn.execute("SELECT name FROM observers")}
        station = conn.execute("SELECT code, address FROM stations WHERE code = '<b>555</b>'").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert mc.HOSTILE_TEXT["description"] in descriptions
    assert mc.HOSTILE_TEXT["involved"] in involved
    assert mc.HOSTILE_TEXT["observer"] in names
    assert station == ("<b>555</b>", mc.HOSTILE_TEXT["address"])
    assert {"stations", "observers", "meta"} <= tables  # the DROP TABLEs stayed text


def test_csv_quotes_and_newlines_are_stored_verbatim(hq_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main.main(["--lang", "kk", "stations", "import", str(hq_copy), str(FILES / "stations-quotes-newlines.csv")])
        == 0
    )
    conn = sqlite3.connect(hq_copy)
    rows = dict(
        (r[0], r[1:]) for r in conn.execute("SELECT code, district, address FROM stations WHERE code IN ('301', '302')")
    )
    conn.close()
    assert rows["301"] == ('Алмалинский "центр"', "ул. Абая, 1\nвход со двора; <b>DROP TABLE</b>")
    assert rows["302"] == ("Бостандыкский", '"кавычки" и, запятые')
    capsys.readouterr()


@pytest.mark.slow
def test_hostile_text_is_printed_verbatim_in_the_pdf(hostile_text_hq: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    from reports.build import build_report

    out = tmp_path / "report.pdf"
    build_report(hostile_text_hq, out, "kk")
    text = "".join(page.extract_text() or "" for page in PdfReader(out).pages)
    flat = " ".join(text.split())
    # ReportLab markup would have eaten the tags (and <script> would be an error): they are text.
    assert "<b>bold</b><script>alert('x')</script>'); DROP TABLE stations; --" in flat
    assert "<b>555</b>" in flat


@pytest.mark.gui
def test_hostile_text_is_plain_text_on_the_observer_pages(world: World, qtbot: Any, tmp_path: Path) -> None:
    """The violations page shows the typed HTML and SQL as the characters typed."""
    from ui.pages.violations import ViolationsPage
    from ui.qt import QLabel, Qt
    from ui.settings import Settings

    store = mc.make_station(tmp_path, world.template, "<b>555</b>", text=mc.HOSTILE_TEXT)
    try:
        page = ViolationsPage(store, Settings(tmp_path / "settings.ini"))
        qtbot.addWidget(page)
        page.refresh()
        [violation] = store.violations()
        page.load_violation(violation)
        assert page.description.toPlainText() == mc.HOSTILE_TEXT["description"]
        assert page.involved.text() == mc.HOSTILE_TEXT["involved"]
        assert page.table.rowCount() == 1
        for label in page.findChildren(QLabel):
            if "<" in label.text():
                assert label.textFormat() == Qt.TextFormat.PlainText, label.text()[:80]
    finally:
        store.close()


@pytest.mark.gui
def test_hostile_text_is_plain_text_in_the_coordinator(hostile_text_hq: Path, qtbot: Any, tmp_path: Path) -> None:
    """Every label of the coordinator window that shows the hostile text shows it as plain text."""
    from ui.coordinator.window import CoordinatorWindow
    from ui.qt import QLabel, Qt

    work = tmp_path / "hq.baqylau"
    copy_hq(hostile_text_hq, work)
    hq = ElectionStore.open(work)
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    try:
        window.show()
        station = hq.station_by_code("<b>555</b>")
        assert station is not None
        window._station_activated(station.id)
        qtbot.wait(50)
        shown = 0
        for label in window.findChildren(QLabel):
            if any(
                marker in label.text()
                for marker in ("<b>555</b>", "<script>", "<u>Айгүл</u>", "<img src", "<i>observer</i>")
            ):
                shown += 1
                assert label.textFormat() == Qt.TextFormat.PlainText, (label.objectName(), label.text()[:80])
        assert shown >= 1
    finally:
        window.close()
        hq.close()


# ---- full disk and read-only folder: merge, export, report ----------------------------------


class SmallDisk:
    """A tmpfs of a few hundred KB (a nearly full USB stick), remountable read-only.

    Needs root and mount(8); the tests that use it are skipped elsewhere, and the
    monkeypatched ENOSPC tests below cover the same code paths everywhere.
    """

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))

    @staticmethod
    def _mount(*args: str) -> None:
        import subprocess

        subprocess.run(["mount", *args], check=True, capture_output=True)

    def resize(self, size: str) -> None:
        self._mount("-o", f"remount,size={size}", str(self.path))

    def read_only(self, on: bool = True) -> None:
        self._mount("-o", "remount," + ("ro" if on else "rw"), str(self.path))

    def close(self) -> None:
        import subprocess

        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


def _can_mount() -> bool:
    import os
    import tempfile

    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(tempfile.mkdtemp(prefix="baqylau-mount-"))
    try:
        SmallDisk(probe, "64k").close()
        return True
    except Exception:  # no permission in this container: fall back to the monkeypatched tests
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


CAN_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="needs root and a tmpfs mount")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "stick", "1m")
    yield disk
    disk.close()


def _big_photo_station(world: World, folder: Path) -> ElectionStore:
    """A station file whose package (a 2 MB photo) cannot fit on a 1 MB stick."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    store = mc.make_station(folder, world.template, "101")
    big = folder / "big.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(
        big, "JPEG", quality=95
    )
    store.add_evidence(store.current_station().id, big)  # type: ignore[union-attr]
    return store


@needs_mount
def test_export_to_a_full_or_read_only_stick(world: World, small_disk: SmallDisk, tmp_path: Path) -> None:
    store = _big_photo_station(world, tmp_path / "obs")
    try:
        # Export stamps the signing key on the observer's record; everything typed must stay.
        before = dump(store.path, skip=("observers",))
        i18n.set_language("kk")
        with pytest.raises(BaqylauError) as err:
            export_station_package(store, small_disk.path / "usb", world.keys)
        assert err.value.key == "error.storage.disk_full"
        assert fragment("error.storage.disk_full", "kk") in str(err.value)
        assert list((small_disk.path / "usb").iterdir()) == []  # no half package, no .part
        small_disk.resize("16m")
        small_disk.read_only()
        i18n.set_language("ru")
        with pytest.raises(BaqylauError) as err:
            export_station_package(store, small_disk.path / "usb", world.keys)
        assert err.value.key == "error.storage.read_only"
        assert fragment("error.storage.read_only", "ru") in str(err.value)
        assert dump(store.path, skip=("observers",)) == before  # the observer's file lost nothing
        assert store.observer().name == "Айгүл Қасымова"  # type: ignore[union-attr]
        small_disk.read_only(False)
        assert export_station_package(store, small_disk.path / "usb", world.keys).is_file()
    finally:
        store.close()


@needs_mount
def test_merge_on_a_full_disk_then_completes(
    world: World, small_disk: SmallDisk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _big_photo_station(world, tmp_path / "obs")
    try:
        pkg = export_station_package(store, tmp_path / "usb", world.keys)
    finally:
        store.close()
    hq = small_disk.path / "hq.baqylau"
    small_disk.resize("3m")  # an empty HQ (16 KB pages) takes ~1.4 MB; what is left is less than the 2 MB photo
    ElectionStore.create(hq, world.template, role="hq").close()
    before = dump(hq)
    # the package cannot fit: refused before a byte is copied (the other packages of a run would go on)
    assert main.main(["--lang", "kk", "merge", str(hq), str(pkg), "--trust-new-keys"]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert fragment("package.error.no_space", "kk") in text and "Traceback" not in text
    assert dump(hq) == before
    assert sorted(p.name for p in small_disk.path.iterdir()) == ["hq.baqylau"]  # no work folder, no WAL left

    small_disk.read_only()
    assert main.main(["--lang", "ru", "merge", str(hq), str(pkg), "--trust-new-keys"]) == 2
    text = capsys.readouterr().err
    assert str(hq) in text and "Traceback" not in text
    small_disk.read_only(False)
    assert dump(hq) == before

    small_disk.resize("16m")  # space freed: the same command now completes
    assert main.main(["--lang", "kk", "merge", str(hq), str(pkg), "--trust-new-keys"]) == 0
    conn = sqlite3.connect(hq)
    assert conn.execute("SELECT count(*) FROM evidence").fetchone()[0] == 2
    conn.close()


@needs_mount
def test_report_to_a_full_stick(
    hostile_text_hq: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    small_disk.resize("64k")
    out = small_disk.path / "report.pdf"
    assert main.main(["--lang", "kk", "report", str(hostile_text_hq), "--out", str(out)]) == 2
    text = capsys.readouterr().err
    assert fragment("report.error.write", "kk") in text and "Traceback" not in text
    assert list(small_disk.path.iterdir()) == []  # no partial PDF under any name


@needs_mount
def test_report_to_a_read_only_stick(
    hostile_text_hq: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    small_disk.read_only()
    out = small_disk.path / "report.pdf"
    assert main.main(["--lang", "ru", "report", str(hostile_text_hq), "--out", str(out)]) == 2
    text = capsys.readouterr().err
    assert fragment("report.error.write", "ru") in text and "Traceback" not in text
    small_disk.read_only(False)
    assert list(small_disk.path.iterdir()) == []


def test_disk_full_without_mount(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same refusals where tmpfs cannot be mounted: the final rename fails with ENOSPC."""
    import errno
    import os

    real_replace = os.replace

    def full(src: Any, dst: Any) -> None:
        if str(dst).endswith((".bqpkg", ".jpg")):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    store = mc.make_station(tmp_path, world.template, "101")
    try:
        pkg = export_station_package(store, tmp_path / "usb", world.keys)
        monkeypatch.setattr(os, "replace", full)
        i18n.set_language("kk")
        with pytest.raises(BaqylauError) as err:
            export_station_package(store, tmp_path / "usb2", world.keys)
        assert err.value.key == "error.storage.disk_full" and fragment("error.storage.disk_full", "kk") in str(
            err.value
        )
        assert list((tmp_path / "usb2").iterdir()) == []
    finally:
        store.close()

    hq = tmp_path / "hq" / "hq.baqylau"
    ElectionStore.create(hq, world.template, role="hq").close()
    before = dump(hq)
    assert main.main(["--lang", "ru", "merge", str(hq), str(pkg), "--trust-new-keys"]) == 2
    text = capsys.readouterr().err
    assert fragment("error.storage.disk_full", "ru") in text and "Traceback" not in text
    assert dump(hq) == before
    assert not [p for p in hq.parent.iterdir() if p.name.startswith(".baqylau-")]
    monkeypatch.setattr(os, "replace", real_replace)
    assert main.main(["--lang", "ru", "merge", str(hq), str(pkg), "--trust-new-keys"]) == 0


# ---- insiders: effects that depend on other packages of the same run ----------------------


def _fresh_hq(w: World, path: Path, *trusted: KeyPair) -> Path:
    hq = ElectionStore.create(path, w.template, role="hq")
    try:
        keys = path.with_name("keys.txt")
        keys.write_text("".join(f"{k.public_hex}\n" for k in trusted), encoding="utf-8")
        import_keys(hq, keys, "coordinator")
    finally:
        hq.close()
    return path


def _outcomes(hq_path: Path, files: list[Path]) -> list[str]:
    hq = ElectionStore.open(hq_path)
    try:
        return [e.outcome for e in merge_packages(hq, files).entries]
    finally:
        hq.close()


def test_same_run_a_key_is_bound_by_its_first_package(world: World, tmp_path: Path) -> None:
    """The insider's own package first: their key is bound to them, and the copy of the other
    observer's package they re-signed later in the same run is refused; the real one merges."""
    forged = _victim_resigned(True)(world, tmp_path)
    hq = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys, world.other_keys)
    assert _outcomes(hq, [world.package, forged, world.other_pkg]) == ["merged", "refused", "merged"]
    conn = sqlite3.connect(hq)
    try:
        # the other observer's figures are theirs, not the forger's (+100)
        assert conn.execute("SELECT max(value) FROM protocol_values WHERE key = 'valid'").fetchone() == (850,)
        assert conn.execute("SELECT count(*) FROM trusted_keys WHERE observer_id IS NOT NULL").fetchone() == (2,)
    finally:
        conn.close()


def test_same_run_an_observer_is_bound_to_its_key(world: World, tmp_path: Path) -> None:
    """The real package first: the forged copy later in the run is refused, the HQ as after the real one."""
    forged = _victim_resigned(True)(world, tmp_path)
    hq = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys, world.other_keys)
    assert _outcomes(hq, [world.other_pkg]) == ["merged"]
    before = dump(hq)
    i18n.set_language("kk")
    hq_store = ElectionStore.open(hq)
    try:
        (entry,) = merge_packages(hq_store, [forged]).entries
    finally:
        hq_store.close()
    assert entry.outcome == "refused" and fragment("package.auth.observer_bound", "kk") in entry.reason
    assert dump(hq) == before


def test_district_vouching_does_not_swallow_the_real_package(world: World, tmp_path: Path) -> None:
    """A district package says a station package was merged (with its real signed manifest) but
    carries none of its records: the station package arriving itself is merged, not "already merged"."""
    hq_path = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys)
    hq = ElectionStore.open(hq_path)
    try:
        trust_key(hq, world.district_keys.public_hex, "district", "coordinator", role="district")
    finally:
        hq.close()
    empty = _district_db(
        lambda w: (
            "".join(f"DELETE FROM {t};" for t in ("evidence", "protocol_values", "protocols", "violations"))
            + "DELETE FROM headcount_events; DELETE FROM turnout_reports; DELETE FROM spoiled_counts;"
            "DELETE FROM checklist_answers;"
        ),
        edit=lambda m: m["counts"].update(
            evidence=0,
            protocol_values=0,
            protocols=0,
            violations=0,
            headcount_events=0,
            turnout_reports=0,
            spoiled_counts=0,
            checklist_answers=0,
        ),
        photos=False,
    )(world, tmp_path)
    hq = ElectionStore.open(hq_path)
    try:
        report = merge_packages(hq, [empty, world.package])
    finally:
        hq.close()
    assert [e.outcome for e in report.entries] == ["merged", "merged"], [e.reason for e in report.entries]
    assert _outcomes(hq_path, [world.package]) == ["duplicate"]
    conn = sqlite3.connect(hq_path)
    try:
        assert conn.execute("SELECT count(*) FROM protocol_values").fetchone()[0] > 0
        assert conn.execute(
            "SELECT via_package_id FROM packages WHERE file_name = ?", (world.package.name,)
        ).fetchone() == (None,)
    finally:
        conn.close()


def test_a_run_goes_on_after_every_kind_of_unreadable_file(world: World, tmp_path: Path) -> None:
    incoming = tmp_path / "in"
    incoming.mkdir()
    files = [
        mc.broken_deflate(world.package, incoming / "a-deflate.bqpkg"),
        mc.unsupported_method(world.package, incoming / "b-method.bqpkg"),
        mc.zeros_bomb(incoming / "c-zeros.bqpkg"),
        _truncated(world, incoming),
        shutil.copyfile(world.package, incoming / "z-good.bqpkg"),
    ]
    hq = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys)
    assert _outcomes(hq, files) == ["refused"] * 4 + ["merged"]
    assert sum(p.stat().st_size for p in hq.parent.rglob("*") if p.is_file()) < 50 * 1024 * 1024


def test_concurrent_runs_of_one_set_merge_each_package_once(world: World, tmp_path: Path) -> None:
    import threading

    from db.merge import _Merger

    hq_path = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys)
    one, two = ElectionStore.open(hq_path), ElectionStore.open(hq_path)
    first = _Merger(one, False).__enter__()
    try:
        # both runs started before either merged it; the first holds the write lock
        second = _Merger(two, False).__enter__()
        assert first.merge_file(world.package).outcome == "merged"
        result: list[str] = []
        worker = threading.Thread(target=lambda: result.append(second.merge_file(world.package).outcome))
        worker.start()
    finally:
        first.__exit__(None)
    worker.join(30)
    second.__exit__(None)
    assert result == ["duplicate"]
    one.close()
    two.close()


def test_stale_work_folders_are_removed(world: World, tmp_path: Path) -> None:
    hq = _fresh_hq(world, tmp_path / "hq" / "hq.baqylau", world.keys)
    dead = hq.parent / ".baqylau-incoming-999999999-abc"
    (dead / "x").mkdir(parents=True)
    (dead / "x" / "staged.jpg").write_bytes(b"left by a crash")
    assert _outcomes(hq, [world.package]) == ["merged"]
    assert not [p for p in hq.parent.iterdir() if p.name.startswith(".baqylau-")]


# ---- mutations of a valid package: only ever a refusal --------------------------------------

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCALE = int(__import__("os").environ.get("BAQYLAU_HYPOTHESIS", "1"))
_CELLS = [
    ("protocol_values", "value"),
    ("protocol_values", "key"),
    ("protocols", "station_id"),
    ("violations", "occurred_at"),
    ("violations", "observer_id"),
    ("evidence", "size"),
    ("evidence", "sha256"),
    ("headcount_events", "delta"),
    ("stations", "code"),
    ("observers", "id"),
    ("turnout_reports", "slot"),
]
_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(["2021-02-30T10:00:00.000000Z", "2099-01-01T00:00:00.000000Z", "101", "102"]),
)


@settings(
    max_examples=12 * _SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_packages_are_only_ever_refused(
    world: World, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    """Bytes flipped in the file, or a cell changed and re-signed by the trusted insider: merge
    either refuses it (a BaqylauError's message, HQ unchanged) or merges it; it never raises."""
    root = tmp_path_factory.mktemp("mut")
    raw = bytearray(world.package.read_bytes())
    if data.draw(st.booleans(), label="flip bytes"):
        for at in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4), label="at"):
            raw[at] ^= data.draw(st.integers(1, 255), label="xor")
        path = root / "flipped.bqpkg"
        path.write_bytes(bytes(raw))
    else:
        table, column = data.draw(st.sampled_from(_CELLS), label="cell")
        value = data.draw(_VALUES, label="value")
        db = root / "mutated.sqlite"
        db.write_bytes(mc.members_of(world.package)[mc.DATA])
        conn = sqlite3.connect(db)
        try:
            sql = f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = (SELECT min(rowid) FROM "{table}")'
            conn.execute(sql, (value,))
            conn.commit()
        except (sqlite3.IntegrityError, OverflowError):
            assume(False)  # SQLite itself refuses to write it: no such package can exist
        finally:
            conn.close()
        path = mc.resign(world.package, root / "mutated.bqpkg", world.keys, change={mc.DATA: db.read_bytes()})
    hq_path = root / "hq" / "hq.baqylau"
    hq_path.parent.mkdir()
    copy_hq(world.base_hq, hq_path)
    before = dump(hq_path)
    hq = ElectionStore.open(hq_path)
    try:
        (entry,) = merge_packages(hq, [path]).entries
    finally:
        hq.close()
    assert entry.outcome in ("refused", "merged"), entry
    if entry.outcome == "refused":
        assert entry.reason and "Traceback" not in entry.reason
        assert dump(hq_path) == before
