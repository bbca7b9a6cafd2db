"""Sealed packages: round trip, wrong key, tampering, truncation, reordering, key files."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

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


def _flip(blob: bytes, at: int) -> bytes:
    b = bytearray(blob)
    b[at] ^= 0x01
    return bytes(b)


TAMPER = {
    "bit flipped in a chunk": (lambda b: _flip(b, HEADER_BYTES + 5), "rel.sealed.damaged"),
    "bit flipped in a tag": (lambda b: _flip(b, len(b) - 1), "rel.sealed.damaged"),
    "chunk size in header changed": (lambda b: b[:8] + (32).to_bytes(4, "big") + b[12:], "rel.sealed.wrong_key"),
    "ephemeral key changed": (lambda b: _flip(b, 20), "rel.sealed.wrong_key"),
    "chunks swapped": (lambda b: (lambda h, c: h + c[1] + c[0] + b"".join(c[2:]))(*_chunks(b)), "rel.sealed.damaged"),
    "chunk dropped": (lambda b: (lambda h, c: h + c[0] + b"".join(c[2:]))(*_chunks(b)), "rel.sealed.damaged"),
    "cut at a chunk boundary": (lambda b: (lambda h, c: h + b"".join(c[:-1]))(*_chunks(b)), "rel.sealed.truncated"),
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
