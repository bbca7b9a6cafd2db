"""Sealed packages: a station package encrypted to the organisation's public key.

A confiscated USB stick or an intercepted messenger upload must reveal nothing
of what an observer saw (names, figures, photos). The observer's laptop holds
only the organisation's *public* key, so it can seal but never open; the
coordinator opens with the private key.

Built only from the ``cryptography`` library's primitives, ECIES-style:

* a fresh X25519 key pair per file; its public half is in the header;
* X25519(ephemeral private, organisation public) -> HKDF-SHA256 -> a 32-byte
  AES-256-GCM key and a 16-byte key check (both bound to the header via
  HKDF's ``info``);
* the plaintext in chunks of ``chunk_size`` bytes, each sealed with AES-GCM
  under nonce = chunk index (the key is fresh per file, so nonces never
  repeat) and associated data = header || index || final flag. The last chunk
  is always shorter than ``chunk_size`` (possibly empty) and flagged final, so
  a file cut at a chunk boundary, chunks swapped, dropped or appended are all
  detected, not just flipped bits.

The key check tells "sealed for another organisation key" apart from "damaged
or tampered with" without a recipient identifier in the clear: only the holder
of the private key can compute it.

File layout (all integers big-endian)::

    magic "BQSEAL\\x00\\x01" (8) | chunk_size (4) | ephemeral X25519 public (32) | key check (16)
    chunk 0 ciphertext+tag | chunk 1 ... | final chunk (< chunk_size plaintext + 16)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from observer.errors import PackageError
from observer.signing import fingerprint_of

MAGIC = b"BQSEAL\x00\x01"
SEALED_SUFFIX = ".bqpkg.sealed"
CHUNK_SIZE = 1024 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024  # a hostile header must not make us allocate gigabytes
TAG_BYTES = 16
KEY_CHECK_BYTES = 16
HEADER_BYTES = len(MAGIC) + 4 + 32 + KEY_CHECK_BYTES
_INFO = b"baqylau sealed package v1"
ORG_PRIVATE_FILE = "org-x25519.pem"
ORG_PUBLIC_FILE = "org-x25519.pub.pem"
MAX_KEY_FILE = 64 * 1024


class SealedError(PackageError):
    """A sealed package or an organisation key file cannot be used."""

    key = "rel.sealed.damaged"


@dataclass(frozen=True)
class OrgKeyFiles:
    private: Path
    public: Path
    fingerprint: str


def public_hex(key: X25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def org_fingerprint(key: X25519PublicKey | X25519PrivateKey) -> str:
    """Same form as observers' key fingerprints, so it can be read aloud and compared."""
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return fingerprint_of(public_hex(pub))


# ---- keys ------------------------------------------------------------------------


def generate_org_keys(folder: Path) -> OrgKeyFiles:
    """Create the organisation's key pair in ``folder``; refuse to overwrite an existing one.

    Overwriting would make every package already sealed to the old key
    unreadable, so an existing private key file is an error, not a prompt.
    """
    folder = Path(folder)
    private_path = folder / ORG_PRIVATE_FILE
    public_path = folder / ORG_PUBLIC_FILE
    if private_path.exists() or public_path.exists():
        raise SealedError("rel.orgkey.exists", file=str(private_path if private_path.exists() else public_path))
    private = X25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    folder.mkdir(parents=True, exist_ok=True)
    _write_new(private_path, pem)  # mkstemp gives 0600: never readable by others, not even briefly
    try:
        _write_new(public_path, pub_pem)
        os.chmod(public_path, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return OrgKeyFiles(private_path, public_path, org_fingerprint(private))


def _write_new(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # fails rather than replace a key written meanwhile
    finally:
        os.unlink(tmp)


def _read_key_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise SealedError("rel.orgkey.bad", file=path.name)
        return path.read_bytes()
    except OSError as exc:
        raise SealedError("rel.orgkey.unreadable", file=path.name, problem=exc.strerror or str(exc)) from None


def load_org_public(path: str | Path) -> X25519PublicKey:
    """The organisation's public key from its PEM file (what observers are given)."""
    p = Path(path)
    data = _read_key_file(p)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SealedError("rel.orgkey.bad", file=p.name) from None
    if not isinstance(key, X25519PublicKey):
        raise SealedError("rel.orgkey.bad", file=p.name)
    return key


def load_org_private(path: str | Path) -> X25519PrivateKey:
    """The organisation's private key (the coordinator's machine only)."""
    p = Path(path)
    data = _read_key_file(p)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SealedError("rel.orgkey.bad", file=p.name) from None
    if not isinstance(key, X25519PrivateKey):
        raise SealedError("rel.orgkey.bad", file=p.name)
    return key


# ---- sealing ---------------------------------------------------------------------


def _derive(shared: bytes, header_start: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=32 + KEY_CHECK_BYTES, salt=None, info=_INFO + header_start).derive(
        shared
    )
    return okm[:32], okm[32:]


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def seal_stream(src: BinaryIO, out: BinaryIO, recipient: X25519PublicKey, *, chunk_size: int = CHUNK_SIZE) -> None:
    """Encrypt everything read from ``src`` to ``recipient``, writing the sealed form to ``out``."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk_size out of range")
    ephemeral = X25519PrivateKey.generate()
    raw_public = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    start = MAGIC + chunk_size.to_bytes(4, "big") + raw_public
    key, check = _derive(ephemeral.exchange(recipient), start)
    header = start + check
    out.write(header)
    aes = AESGCM(key)
    index = 0
    block = _read_exact(src, chunk_size)
    while True:
        # Read one ahead: a full block followed by EOF is not final; an empty final chunk follows it.
        final = len(block) < chunk_size
        out.write(aes.encrypt(_nonce(index), block, _aad(header, index, final)))
        if final:
            return
        index += 1
        block = _read_exact(src, chunk_size)


def _read_exact(src: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    left = n
    while left:
        piece = src.read(left)
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


def open_stream(src: BinaryIO, out: BinaryIO, private: X25519PrivateKey, name: str) -> None:
    """Decrypt a sealed stream into ``out``; raise SealedError (out then holds garbage: discard it)."""
    header = _read_exact(src, HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC[:6]):
        raise SealedError("rel.sealed.not_sealed", file=name)
    if header[:8] != MAGIC:
        raise SealedError("rel.sealed.newer", file=name)
    chunk_size = int.from_bytes(header[8:12], "big")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise SealedError("rel.sealed.damaged", file=name)
    start = header[: HEADER_BYTES - KEY_CHECK_BYTES]
    try:
        ephemeral = X25519PublicKey.from_public_bytes(header[12:44])
        shared = private.exchange(ephemeral)
    except ValueError:  # a low-order point: the all-zero shared secret is refused by the library
        raise SealedError("rel.sealed.damaged", file=name) from None
    key, check = _derive(shared, start)
    if not hmac.compare_digest(check, header[HEADER_BYTES - KEY_CHECK_BYTES :]):
        raise SealedError("rel.sealed.wrong_key", file=name, fingerprint=org_fingerprint(private))
    aes = AESGCM(key)
    index = 0
    while True:
        block = _read_exact(src, chunk_size + TAG_BYTES)
        final = len(block) < chunk_size + TAG_BYTES
        if final and len(block) < TAG_BYTES:
            raise SealedError("rel.sealed.truncated", file=name)
        try:
            plain = aes.decrypt(_nonce(index), block, _aad(header, index, final))
        except InvalidTag:
            # A full-size block that claims not to be final but is the last thing in
            # the file means the final chunk was cut off.
            if not final and not src.read(1):
                raise SealedError("rel.sealed.truncated", file=name) from None
            raise SealedError("rel.sealed.damaged", file=name) from None
        out.write(plain)
        if final:
            if src.read(1):
                raise SealedError("rel.sealed.damaged", file=name)
            return
        index += 1


def is_sealed_name(path: Path) -> bool:
    return path.name.endswith(SEALED_SUFFIX)


def seal_file(plain: Path, dest_dir: Path, recipient: X25519PublicKey, name: str) -> Path:
    """Seal ``plain`` into ``dest_dir/name`` via a hidden ``.part`` file, fsynced and renamed.

    OSErrors pass through (the caller turns them into a storage message); a
    failed write leaves no file under the final name.
    """
    final = dest_dir / name
    part = dest_dir / f".{name}.part"
    try:
        with plain.open("rb") as src, part.open("wb") as out:
            seal_stream(src, out, recipient)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return final


def open_file(sealed: Path, target: Path, private: X25519PrivateKey) -> None:
    """Decrypt ``sealed`` into ``target`` (a private work file); nothing is left behind on failure."""
    try:
        with sealed.open("rb") as src, target.open("wb") as out:
            open_stream(src, out, private, sealed.name)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def sealed_name(stamp: str) -> str:
    """A file name that says nothing about the station or the observer (unlike a plain package's)."""
    return f"baqylau-{stamp}-{hashlib.sha256(os.urandom(16)).hexdigest()[:8]}{SEALED_SUFFIX}"
