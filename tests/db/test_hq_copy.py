"""`baqylau hq copy`: a whole HQ between a file and PostgreSQL, verified, all or nothing (issue 16)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import db.hq_copy as hq_copy
import main
from db.demo import demo_hq
from db.hq_copy import content_digest, copy_hq
from db.store import ElectionStore
from observer.errors import StorageError
from observer.template import builtin_template


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo HQ with observers' packages merged, evidence included (the chain a coordinator runs)."""
    return demo_hq(tmp_path_factory.mktemp("demo"), stations=120, seed=5)


def _digest(where: str | Path) -> str:
    store = ElectionStore.open(where)
    try:
        return content_digest(store)
    finally:
        store.close()


def _aggregate(where: str | Path, capsys: pytest.CaptureFixture[str], source: str) -> str:
    argv = ["--lang", "en", "aggregate", str(where), "--source", source, "--level", "region", "--format", "json"]
    assert main.main(argv) == 0
    return capsys.readouterr().out


def test_a_file_copy_holds_every_row_and_every_evidence_file(demo: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "copy.baqylau"
    assert main.main(["--lang", "en", "hq", "copy", str(demo), str(target), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["digest"] == _digest(demo) == _digest(target)
    assert summary["rows"]["stations"] == 120 and summary["rows"]["protocols"] > 0
    original = demo.with_name(demo.name + ".evidence")
    copied = target.with_name(target.name + ".evidence")
    assert sorted(p.name for p in original.iterdir()) == sorted(p.name for p in copied.iterdir())
    assert all((copied / p.name).read_bytes() == p.read_bytes() for p in original.iterdir())
    assert _aggregate(demo, capsys, "both") == _aggregate(target, capsys, "both")


@pytest.mark.postgres
def test_file_to_postgresql_and_back_gives_the_same_content(demo: Path, pg_url: str, tmp_path: Path, capsys) -> None:
    assert main.main(["--lang", "en", "hq", "copy", str(demo), pg_url]) == 0
    said = capsys.readouterr().out
    assert said.startswith("Copied")
    back = tmp_path / "back.baqylau"
    copy_hq(pg_url, back)
    assert _digest(demo) == _digest(pg_url) == _digest(back)
    # What a script reads: byte for byte the same figures from the server as from the file.
    assert _aggregate(demo, capsys, "official") == _aggregate(pg_url, capsys, "official")
    assert _aggregate(demo, capsys, "both") == _aggregate(back, capsys, "both")


@pytest.mark.postgres
def test_a_database_already_in_use_is_refused_and_left_alone(demo: Path, pg_url: str) -> None:
    copy_hq(demo, pg_url)
    before = _digest(pg_url)
    with pytest.raises(StorageError) as refused:
        copy_hq(demo, pg_url)
    assert refused.value.key == "error.storage.exists"
    assert _digest(pg_url) == before


def test_an_existing_file_is_refused_and_left_alone(demo: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken.baqylau"
    target.write_bytes(b"someone's work")
    assert main.main(["--lang", "en", "hq", "copy", str(demo), str(target)]) == 2
    assert target.read_bytes() == b"someone's work"


def test_a_station_file_is_not_an_hq(tmp_path: Path) -> None:
    station = tmp_path / "station.baqylau"
    ElectionStore.create(station, builtin_template("kz-majilis-2021")).close()
    with pytest.raises(StorageError) as refused:
        copy_hq(station, tmp_path / "copy.baqylau")
    assert refused.value.key == "hq.copy.not_hq"
    assert list(tmp_path.iterdir()) == [station]


def _digests_that_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = iter(["a" * 64, "b" * 64])
    monkeypatch.setattr(hq_copy, "_digest_tables", lambda conn, tables: next(calls))


def test_a_copy_that_differs_from_its_source_leaves_nothing(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _digests_that_differ(monkeypatch)
    with pytest.raises(StorageError) as refused:
        copy_hq(demo, tmp_path / "copy.baqylau")
    assert refused.value.key == "hq.copy.digest_differs"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_copy_into_postgresql_that_differs_leaves_the_database_empty(
    demo: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _digests_that_differ(monkeypatch)
    with pytest.raises(StorageError):
        copy_hq(demo, pg_url)
    monkeypatch.undo()
    with pytest.raises(StorageError) as empty:
        ElectionStore.open(pg_url)
    assert empty.value.key == "error.storage.pg_empty"


def test_a_damaged_evidence_file_stops_the_copy(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "src" / "hq.baqylau"
    copy_hq(demo, source)
    photo = next(source.with_name(source.name + ".evidence").iterdir())
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    with pytest.raises(StorageError) as refused:
        copy_hq(source, tmp_path / "copy.baqylau")
    assert refused.value.key == "hq.copy.evidence_damaged"
    assert not (tmp_path / "copy.baqylau").exists() and not (tmp_path / "copy.baqylau.evidence").exists()


@pytest.fixture
def other_pg_url(pg_url: str) -> Iterator[str]:
    """A second new, empty database on the same test server (for a copy from one database to another)."""
    from db.engine import pg_scratch_databases

    with pg_scratch_databases(pg_url, "baqylau_other") as new_database:
        yield new_database()


def _evidence_bytes(where: str | Path) -> dict[str, bytes]:
    """Every evidence file the HQ holds (stored name -> bytes), read the way every reader does."""
    store = ElectionStore.open(where)
    try:
        infos = store.evidence() + store.evidence(deleted=True)
        return {
            e.stored_name: store.evidence_path(e).read_bytes() for e in infos if store.has_evidence_file(e.stored_name)
        }
    finally:
        store.close()


@pytest.mark.postgres
def test_evidence_files_arrive_byte_identical_in_every_direction(
    demo: Path, pg_url: str, other_pg_url: str, tmp_path: Path, capsys
) -> None:
    original = _evidence_bytes(demo)
    assert len(original) > 5
    assert all(hashlib.sha256(data).hexdigest() == name[:64] for name, data in original.items())
    assert main.main(["--lang", "en", "hq", "copy", str(demo), pg_url, "--format", "json"]) == 0  # file -> database
    assert json.loads(capsys.readouterr().out)["evidence_files"] == len(original)
    assert copy_hq(pg_url, other_pg_url).evidence_files == len(original)  # database -> database
    back = tmp_path / "back.baqylau"
    assert copy_hq(other_pg_url, back).evidence_files == len(original)  # database -> file
    for where in (pg_url, other_pg_url, back):
        assert _evidence_bytes(where) == original, where
    assert sorted(p.name for p in back.with_name(back.name + ".evidence").iterdir()) == sorted(original)
    assert _digest(demo) == _digest(other_pg_url) == _digest(back)


def _damage_one_file_on_the_server(url: str) -> None:
    store = ElectionStore.open(url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE evidence_file_parts SET data = set_byte(data, 100, 255 - get_byte(data, 100)) "
                "WHERE stored_name = (SELECT min(stored_name) FROM evidence_file_parts)"
            )
    finally:
        store.close()


@pytest.mark.postgres
def test_a_damaged_evidence_file_on_the_server_stops_the_copy(
    demo: Path, pg_url: str, other_pg_url: str, tmp_path: Path
) -> None:
    copy_hq(demo, pg_url)
    _damage_one_file_on_the_server(pg_url)
    target = tmp_path / "copy.baqylau"
    with pytest.raises(StorageError) as refused:
        copy_hq(pg_url, target)
    assert refused.value.key == "hq.copy.evidence_damaged"
    assert list(tmp_path.iterdir()) == []
    _refused_and_left_empty(pg_url, other_pg_url)


@pytest.mark.postgres
def test_a_damaged_evidence_file_stops_a_copy_into_the_server(demo: Path, pg_url: str, tmp_path: Path) -> None:
    source = tmp_path / "src" / "hq.baqylau"
    copy_hq(demo, source)
    photo = sorted(source.with_name(source.name + ".evidence").iterdir())[-1]
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    _refused_and_left_empty(source, pg_url)


def _refused_and_left_empty(source: str | Path, url: str) -> None:
    with pytest.raises(StorageError) as refused:
        copy_hq(source, url)
    assert refused.value.key == "hq.copy.evidence_damaged"
    with pytest.raises(StorageError) as empty:
        ElectionStore.open(url)
    assert empty.value.key == "error.storage.pg_empty"


@pytest.mark.postgres
def test_export_hq_from_postgresql_carries_what_a_file_export_carries(demo: Path, pg_url: str, tmp_path: Path) -> None:
    """A district HQ on a server hands its data up the chain like a file HQ: `export-hq URL` packages a
    verified file copy of the database, and the organisation's HQ merges it."""
    from db.keys import import_keys
    from db.merge import merge_packages
    from db.package import export_hq_package, read_package
    from observer.signing import KeyPair

    on_file = tmp_path / "district.baqylau"
    copy_hq(demo, on_file)
    copy_hq(demo, pg_url)
    keys = KeyPair.generate()
    packages = []
    for where, out in ((on_file, tmp_path / "from-file"), (pg_url, tmp_path / "from-server")):
        store = ElectionStore.open(where)
        try:
            packages.append(export_hq_package(store, out, keys))
        finally:
            store.close()
    manifests = []
    for i, pkg in enumerate(packages):
        (work := tmp_path / f"work{i}").mkdir()
        with read_package(pkg, work_dir=work) as verified:
            manifests.append(verified.manifest)
    assert manifests[0].counts == manifests[1].counts and manifests[1].counts["protocols"] > 0
    assert [m.name for m in manifests[0].members] == [m.name for m in manifests[1].members]
    assert [m.sha256 for m in manifests[0].members[1:]] == [m.sha256 for m in manifests[1].members[1:]]  # evidence

    org = ElectionStore.create(tmp_path / "org.baqylau", builtin_template("kz-majilis-2021"), "hq")
    try:
        trusted = tmp_path / "district-key.txt"
        trusted.write_text(keys.public_hex + " district on a server\n")
        import_keys(org, trusted, "org coordinator", role="district")
        assert merge_packages(org, [packages[1]]).counts()["merged"] == 1
    finally:
        org.close()
