"""Sealed packages: round trip, wrong key, tampering, truncation, reordering, key files."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from db.store import ElectionStore
from observer.i18n import tr
from observer.sealed import (
    HEADER_BYTES,
    MAGIC,
    TAG_BYTES,
    SealedError,
    generate_org_keys,
    load_org_private,
    load_org_public,
    open_file,
    open_stream,
    seal_file,
    seal_stream,
)


def _seal(data: bytes, key: X25519PrivateKey, chunk: int = 64) -> bytes:
    out = io.BytesIO()
    seal_stream(io.BytesIO(data), out, key.public_key(), chunk_size=chunk)
    return out.getvalue()


def _open(blob: bytes, key: X25519PrivateKey) -> bytes:
    out = io.BytesIO()
    open_stream(io.BytesIO(blob), out, key, "p.bqpkg.sealed")
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 1000])
def test_round_trip_at_every_chunk_boundary(size: int) -> None:
    key = X25519PrivateKey.generate()
    data = os.urandom(size)
    blob = _seal(data, key)
    # header + one tag per full chunk + the (possibly empty) final chunk's tag
    assert len(blob) == HEADER_BYTES + size + TAG_BYTES * (size // 64 + 1)
    assert _open(blob, key) == data
    if size >= 16:
        assert data[:16] not in blob  # nothing of the plaintext shows


def test_same_plaintext_seals_differently_each_time() -> None:
    key = X25519PrivateKey.generate()
    assert _seal(b"same" * 100, key) != _seal(b"same" * 100, key)


def test_wrong_key_is_named_not_mistaken_for_damage() -> None:
    right, wrong = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    with pytest.raises(SealedError) as err:
        _open(_seal(b"x" * 300, right), wrong)
    assert err.value.key == "rel.sealed.wrong_key"
    assert "басқа кілтіне" in err.value.message("kk")


def _chunks(blob: bytes, chunk: int = 64) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_BYTES:]
    size = chunk + TAG_BYTES
    return blob[:HEADER_BYTES], [body[i : i + size] for i in range(0, len(body), size)]


def _rechunk(blob: bytes, change: Callable[[list[bytes]], list[bytes]]) -> bytes:
    header, chunks = _chunks(blob)
    return header + b"".join(change(chunks))


def _flip(blob: bytes, at: int) -> bytes:
    b = bytearray(blob)
    b[at] ^= 0x01
    return bytes(b)


TAMPER = {
    "bit flipped in a chunk": (lambda b: _flip(b, HEADER_BYTES + 5), "rel.sealed.damaged"),
    "bit flipped in a tag": (lambda b: _flip(b, len(b) - 1), "rel.sealed.damaged"),
    "chunk size in header changed": (lambda b: b[:8] + (32).to_bytes(4, "big") + b[12:], "rel.sealed.wrong_key"),
    "ephemeral key changed": (lambda b: _flip(b, 20), "rel.sealed.wrong_key"),
    "chunks swapped": (lambda b: _rechunk(b, lambda c: [c[1], c[0], *c[2:]]), "rel.sealed.damaged"),
    "chunk dropped": (lambda b: _rechunk(b, lambda c: [c[0], *c[2:]]), "rel.sealed.damaged"),
    "cut at a chunk boundary": (lambda b: _rechunk(b, lambda c: c[:-1]), "rel.sealed.truncated"),
    "cut mid-chunk": (lambda b: b[: HEADER_BYTES + 100], "rel.sealed.damaged"),
    "cut inside the header": (lambda b: b[:30], "rel.sealed.not_sealed"),
    "bytes appended": (lambda b: b + b"\0" * 20, "rel.sealed.damaged"),
    "not sealed at all": (lambda b: b"PK\x03\x04" + b[4:], "rel.sealed.not_sealed"),
    "newer format": (lambda b: MAGIC[:6] + b"\x00\x09" + b[8:], "rel.sealed.newer"),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampering_is_refused_with_its_reason(case: str) -> None:
    key = X25519PrivateKey.generate()
    data = os.urandom(64 * 4 + 10)
    change, expected = TAMPER[case]
    with pytest.raises(SealedError) as err:
        _open(change(_seal(data, key)), key)
    assert err.value.key == expected
    assert "p.bqpkg.sealed" in str(err.value)


def test_org_keygen_files_modes_and_no_overwrite(tmp_path: Path) -> None:
    files = generate_org_keys(tmp_path / "org")
    assert stat.S_IMODE(files.private.stat().st_mode) == 0o600
    assert b"PRIVATE" not in files.public.read_bytes()
    private = load_org_private(files.private)
    public = load_org_public(files.public)
    assert _open(_seal(b"hello", private), private) == b"hello"
    out = io.BytesIO()
    seal_stream(io.BytesIO(b"via public file"), out, public)
    assert _open(out.getvalue(), private) == b"via public file"
    before = files.private.read_bytes()
    with pytest.raises(SealedError) as err:
        generate_org_keys(tmp_path / "org")
    assert err.value.key == "rel.orgkey.exists"
    assert files.private.read_bytes() == before
    assert [p.name for p in (tmp_path / "org").iterdir() if p.name.startswith(".")] == []


def test_bad_key_files(tmp_path: Path) -> None:
    files = generate_org_keys(tmp_path)
    with pytest.raises(SealedError) as err:
        load_org_public(files.private)  # the private file where the public one is expected
    assert err.value.key == "rel.orgkey.bad"
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(SealedError) as err:
        load_org_public(junk)
    assert err.value.message("ru") == tr("rel.orgkey.bad", "ru", file="junk.pem")
    with pytest.raises(SealedError) as err:
        load_org_private(tmp_path / "missing.pem")
    assert err.value.key == "rel.orgkey.unreadable"


def test_large_file_streams_in_chunks(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    plain = tmp_path / "big.bqpkg"
    with plain.open("wb") as fh:
        for _ in range(5):
            fh.write(os.urandom(1024 * 1024))
        fh.write(b"tail")
    sealed = seal_file(plain, tmp_path, key.public_key(), "big.bqpkg.sealed")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    back = tmp_path / "back.bqpkg"
    open_file(sealed, back, key)
    assert back.read_bytes() == plain.read_bytes()
    damaged = tmp_path / "damaged.bqpkg.sealed"
    damaged.write_bytes(_flip(sealed.read_bytes(), 3 * 1024 * 1024))
    with pytest.raises(SealedError):
        open_file(damaged, tmp_path / "never.bqpkg", key)
    assert not (tmp_path / "never.bqpkg").exists()


# ---- export and merge of sealed packages ------------------------------------------


def _select_all(table: str) -> str:
    """Every row of ``table``; a refusal's line in the package log (db.merge keeps it there) aside."""
    return f'SELECT * FROM "{table}"' + (" WHERE outcome != 'refused'" if table == "packages" else "")


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {t: sorted(conn.execute(_select_all(t)).fetchall(), key=repr) for t in tables}
    conn.close()
    return out


def _station(tmp_path: Path, template: object) -> ElectionStore:
    from PIL import Image

    s = ElectionStore.create(tmp_path / "station.baqylau", template)  # type: ignore[arg-type]
    s.set_observer("Айгүл Қасымова", "MISK")
    st = s.upsert_station("777", "KZ-ALA", "Алмалы", "", 1500)
    s.select_station(st.id)
    pid = s.protocol_id(st.id)
    s.set_protocol_value(pid, "registered", 1500)
    s.set_protocol_value(pid, "valid", 850)
    photo = tmp_path / "protocol.jpg"
    Image.new("RGB", (200, 150), (10, 90, 200)).save(photo, "JPEG")
    s.add_evidence(st.id, photo, protocol_id=pid)
    return s


def test_sealed_export_reveals_nothing_and_merges_with_the_org_key(
    tmp_path: Path, template_2021: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import main
    from db.merge import merge_packages
    from db.package import export_station_package
    from observer.signing import KeyPair

    org = generate_org_keys(tmp_path / "org")
    station = _station(tmp_path, template_2021)
    keys = KeyPair.generate()
    usb = tmp_path / "usb"
    try:
        sealed = export_station_package(station, usb, keys, encrypt_to=load_org_public(org.public))
        plain = export_station_package(station, tmp_path / "plain", keys)
    finally:
        station.close()
    assert sealed.name.endswith(".bqpkg.sealed") and "777" not in sealed.name
    assert [p.name for p in usb.iterdir()] == [sealed.name]  # no plain package, no .part left on the stick
    blob = sealed.read_bytes()
    for secret in ("Айгүл".encode(), b"manifest.json", b"SQLite format 3", keys.public_hex.encode(), b"777"):
        assert secret not in blob

    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")  # type: ignore[arg-type]
    try:
        before = _dump(hq.path)
        no_key = merge_packages(hq, [usb], trust_new_keys=True)
        assert [(e.outcome, e.path) for e in no_key.entries] == [("refused", sealed)]
        assert "--org-key" in no_key.entries[0].reason
        wrong = merge_packages(hq, [sealed], trust_new_keys=True, org_key=X25519PrivateKey.generate())
        assert wrong.entries[0].outcome == "refused" and sealed.name in wrong.entries[0].reason
        tampered = tmp_path / "t" / sealed.name
        tampered.parent.mkdir()
        tampered.write_bytes(blob[:-40] + bytes([blob[-40] ^ 4]) + blob[-39:])
        bad = merge_packages(hq, [tampered], trust_new_keys=True, org_key=load_org_private(org.private))
        assert bad.entries[0].outcome == "refused"
        assert bad.entries[0].reason == tr("rel.sealed.damaged", file=sealed.name)
        assert _dump(hq.path) == before
        assert not [p for p in hq.path.parent.iterdir() if p.name.startswith(".baqylau-")]

        good = merge_packages(hq, [usb], trust_new_keys=True, org_key=load_org_private(org.private))
        assert [(e.outcome, e.path, e.station_code) for e in good.entries] == [("merged", sealed, "777")]
        merged = _dump(hq.path)
        # the decrypted package is the very package a plain export makes: same records
        assert len(merged["protocol_values"]) == 2 and len(merged["evidence"]) == 1
        assert merge_packages(hq, [plain], org_key=load_org_private(org.private)).entries[0].outcome == "merged"
    finally:
        hq.close()

    # The command line, in Kazakh: a sealed file without the key, then with it.
    hq2 = tmp_path / "hq2.baqylau"
    assert main.main(["--lang", "kk", "merge", str(hq2), str(usb), "--trust-new-keys"]) == 2
    assert "шифрланған: ұйымның жабық кілт файлын көрсетіңіз" in capsys.readouterr().out
    assert (
        main.main(["--lang", "kk", "merge", str(hq2), str(usb), "--trust-new-keys", "--org-key", str(org.private)]) == 0
    )
    assert main.main(["--lang", "ru", "merge", str(hq2), str(usb), "--org-key", str(org.public)]) == 2
    assert "не является файлом ключа организации" in capsys.readouterr().err


@pytest.mark.gui
def test_export_page_encrypts_with_the_remembered_org_key(qtbot: object, tmp_path: Path, template_2021: object) -> None:
    from ui.pages.export import ExportPage
    from ui.settings import Settings

    org = generate_org_keys(tmp_path / "org")
    station = _station(tmp_path, template_2021)
    settings = Settings(tmp_path / "settings.ini")
    try:
        page = ExportPage(station, settings)
        qtbot.addWidget(page)  # type: ignore[attr-defined]
        assert not page.seal_box.isChecked()
        assert page.set_org_key(org.private) is False  # the private file is refused: observers never get it
        assert page.set_org_key(org.public) is True
        assert page.seal_box.isChecked() and org.fingerprint in page.org_key_label.text()
        usb = tmp_path / "USB"
        usb.mkdir()
        sealed = page.export_to(usb, reason="only the sealing is tested here")  # the day has open items
        assert sealed is not None and sealed.name.endswith(".bqpkg.sealed")
        assert [p.name for p in usb.iterdir()] == [sealed.name]
        out = io.BytesIO()
        with sealed.open("rb") as fh:
            open_stream(fh, out, load_org_private(org.private), sealed.name)
        assert out.getvalue().startswith(b"PK\x03\x04")

        # Chosen once: a new page (next start of the app) remembers the key and the switch.
        again = ExportPage(station, Settings(tmp_path / "settings.ini"))
        qtbot.addWidget(again)  # type: ignore[attr-defined]
        assert again.seal_box.isChecked() and org.fingerprint in again.org_key_label.text()
        again.seal_box.setChecked(False)
        plain = again.export_to(usb, reason="only the sealing is tested here")
        assert plain is not None and plain.suffix == ".bqpkg"
    finally:
        station.close()
