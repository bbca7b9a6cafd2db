"""Reused evidence: identical and near-identical photos across stations, via merged packages and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

import main
from db.merge import merge_packages
from db.package import export_station_package
from db.reuse import (
    DEFAULT_THRESHOLD,
    IDENTICAL,
    NEAR,
    dhash,
    find_reused_evidence,
    hamming,
    reused_evidence_by_station,
)
from db.store import ElectionStore
from observer.signing import KeyPair


def scene(seed: int, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A photo-like picture: smooth random shapes, different for every seed."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (6, 8, 3)).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)


def station_package(root: Path, template: Any, code: str, observer: str, photos: list[Path]) -> Path:
    s = ElectionStore.create(root / f"st-{code}.baqylau", template)
    try:
        s.set_observer(observer, "MISK")
        st = s.upsert_station(code, "KZ-ALA", "Алмалы", "", 1500)
        s.select_station(st.id)
        pid = s.protocol_id(st.id)
        s.set_protocol_value(pid, "registered", 1500)
        for p in photos:
            s.add_evidence(st.id, p, protocol_id=pid)
        return export_station_package(s, root / "usb", KeyPair.generate())
    finally:
        s.close()


@pytest.fixture
def hq_with_reuse(tmp_path: Path, template_2021: Any) -> Iterator[ElectionStore]:
    original = tmp_path / "IMG_0001.jpg"
    scene(1).save(original, "JPEG", quality=90)
    recompressed = tmp_path / "photo_2021-01-10.jpg"  # what a messenger makes of it
    scene(1).resize((800, 600)).save(recompressed, "JPEG", quality=35)
    cropped = tmp_path / "crop.png"
    scene(1).crop((15, 10, 1185, 890)).filter(ImageFilter.GaussianBlur(1)).save(cropped)
    unrelated = [tmp_path / f"other{i}.jpg" for i in range(4)]
    for i, p in enumerate(unrelated):
        scene(100 + i).save(p, "JPEG", quality=85)
    packages = [
        station_package(tmp_path, template_2021, "101", "Айгүл", [original, unrelated[0]]),
        station_package(tmp_path, template_2021, "102", "Бауыржан", [original]),  # the same file
        station_package(tmp_path, template_2021, "103", "Сәуле", [recompressed, unrelated[1]]),
        station_package(tmp_path, template_2021, "104", "Данияр", [cropped]),
        station_package(tmp_path, template_2021, "105", "Ерлан", [unrelated[2], unrelated[3]]),
    ]
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")
    report = merge_packages(hq, packages, trust_new_keys=True)
    assert report.counts()["merged"] == 5
    yield hq
    hq.close()


def test_identical_and_near_pairs_across_stations(hq_with_reuse: ElectionStore) -> None:
    pairs = find_reused_evidence(hq_with_reuse)
    found = {(p.kind, p.a.station_code, p.b.station_code) for p in pairs}
    assert (IDENTICAL, "101", "102") in found
    for a, b in (("101", "103"), ("102", "103"), ("101", "104"), ("102", "104"), ("103", "104")):
        assert (NEAR, a, b) in found, (a, b)
    # Nothing else: unrelated photos and station 105 never show up.
    assert len(pairs) == 6
    assert all(p.a.station_code != p.b.station_code for p in pairs)
    assert "105" not in {p.a.station_code for p in pairs} | {p.b.station_code for p in pairs}
    first = pairs[0]
    assert first.kind == IDENTICAL and first.distance == 0
    assert {first.a.observer_name, first.b.observer_name} == {"Айгүл", "Бауыржан"}
    assert first.a.original_name == "IMG_0001.jpg" and first.a.sha256 == first.b.sha256
    assert all(p.distance <= DEFAULT_THRESHOLD for p in pairs)
    by_station = reused_evidence_by_station(hq_with_reuse)
    assert sorted(by_station) == ["101", "102", "103", "104"] and len(by_station["103"]) == 3


def test_a_scan_keeps_each_thumbnail_hash_and_the_next_process_reads_them_without_decoding(
    hq_with_reuse: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What one process decoded, the next (no cached hashes) reads from the file: the same pairs,
    without decoding a single thumbnail; the hashes are those of db.reuse, keyed by the bytes."""
    import sqlite3

    import db.reuse as reuse

    def stored() -> dict[str, str]:
        with sqlite3.connect(hq_with_reuse.path) as conn:
            found = dict(conn.execute("SELECT thumb_sha256, dhash FROM thumbnail_hashes"))
        conn.close()
        return found

    reuse._cache.clear()
    assert stored() == {}  # the merge hashes nothing: a scan does, once
    expected = find_reused_evidence(hq_with_reuse)
    with sqlite3.connect(hq_with_reuse.path) as conn:
        thumbs = [t for (t,) in conn.execute("SELECT thumbnail FROM evidence WHERE kind = 'photo'")]
    conn.close()
    kept = stored()
    # every distinct photo thumbnail, hashed once (two stations sent the same file: the same bytes)
    assert len(thumbs) == 8 and len(kept) == len(set(thumbs)) == 7
    for t in thumbs:
        h = reuse.thumbnail_hash(t)
        assert kept[reuse.thumbnail_key(t)] == ("" if h is None else f"{h:016x}")
    reuse._cache.clear()

    def no_decoding(_data: bytes | None) -> int | None:
        raise AssertionError("a thumbnail was decoded although its hash is in the file")

    monkeypatch.setattr(reuse, "thumbnail_hash", no_decoding)
    assert find_reused_evidence(hq_with_reuse) == expected


def test_a_scan_that_cannot_write_its_hashes_still_answers(hq_with_reuse: ElectionStore, tmp_path: Path) -> None:
    """The hashes are a cache: a writer holding the file (a merge batch) makes the scan skip keeping
    them, at once (no busy wait), with the same answer; the next scan keeps them."""
    import sqlite3

    import db.reuse as reuse

    reuse._cache.clear()
    expected = find_reused_evidence(hq_with_reuse)
    with sqlite3.connect(hq_with_reuse.path) as conn:
        conn.execute("DELETE FROM thumbnail_hashes")
    conn.close()
    reuse._cache.clear()
    writer = sqlite3.connect(hq_with_reuse.path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # as a merge batch holds the file
    try:
        assert find_reused_evidence(hq_with_reuse) == expected
        assert writer.execute("SELECT count(*) FROM thumbnail_hashes").fetchone() == (0,)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    reuse._cache.clear()
    assert find_reused_evidence(hq_with_reuse) == expected
    with sqlite3.connect(hq_with_reuse.path) as conn:
        assert conn.execute("SELECT count(*) FROM thumbnail_hashes").fetchone() == (7,)
    conn.close()


def test_threshold_zero_keeps_only_identical_or_unchanged_hashes(hq_with_reuse: ElectionStore) -> None:
    strict = find_reused_evidence(hq_with_reuse, threshold=0)
    assert all(p.distance == 0 for p in strict)
    assert (IDENTICAL, "101", "102") in {(p.kind, p.a.station_code, p.b.station_code) for p in strict}
    with pytest.raises(ValueError):
        find_reused_evidence(hq_with_reuse, threshold=65)


def test_dhash_separates_different_photos_and_ignores_flat_ones() -> None:
    hashes = [dhash(scene(i, (320, 240))) for i in range(20)]
    assert all(h is not None for h in hashes)
    distances = [hamming(hashes[i], hashes[j]) for i in range(20) for j in range(i + 1, 20)]  # type: ignore[arg-type]
    assert min(distances) > DEFAULT_THRESHOLD * 2
    # A flat picture has no detail: no hash, so it cannot match every other flat picture.
    assert dhash(Image.new("RGB", (320, 240), (120, 130, 140))) is None


def test_same_photo_twice_at_one_station_is_not_reuse(tmp_path: Path, template_2021: Any) -> None:
    photo = tmp_path / "p.jpg"
    scene(7).save(photo, "JPEG")
    copy = tmp_path / "p2.jpg"
    scene(7).save(copy, "JPEG", quality=50)
    pkg = station_package(tmp_path, template_2021, "201", "Айгүл", [photo, copy])
    hq = ElectionStore.create(tmp_path / "hq2.baqylau", template_2021, role="hq")
    try:
        merge_packages(hq, [pkg], trust_new_keys=True)
        assert find_reused_evidence(hq) == []
    finally:
        hq.close()


def test_cli_lists_pairs_in_kazakh(hq_with_reuse: ElectionStore, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(hq_with_reuse.path)
    assert main.main(["--lang", "kk", "evidence-reuse", path]) == 0
    out = capsys.readouterr().out
    assert "бірдей файл: 101 учаскесі (Айгүл, IMG_0001.jpg" in out
    assert "102 учаскесі (Бауыржан, IMG_0001.jpg" in out
    assert "6 жұп, бірдей 1, өте ұқсас 5" in out
    assert main.main(["--lang", "ru", "evidence-reuse", path, "--threshold", "99"]) == 2
    assert "Порог должен быть от 0 до 64" in capsys.readouterr().err


@pytest.mark.postgres
def test_cli_gives_the_same_pairs_from_a_postgresql_hq(
    hq_with_reuse: ElectionStore, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from db.hq_copy import copy_hq

    copy_hq(hq_with_reuse.path, pg_url)
    outputs = []
    for where in (str(hq_with_reuse.path), pg_url):
        assert main.main(["--lang", "en", "evidence-reuse", where]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "6 pair(s), 1 identical" in outputs[0]
