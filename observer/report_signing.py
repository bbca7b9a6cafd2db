"""The organisation's signature on a published report PDF (Ed25519, embedded at the end of the file).

Why embedded and not a detached ``report.pdf.sig``: a report travels alone (a
messenger, a journalist's download, a court filing); a signature beside it is
lost on the first forward. The signature is appended after the PDF's last
``%%EOF`` as two comment lines, which PDF readers ignore::

    %baqylau-signature v1 ed25519 <public key, 64 hex> <signature, base64>
    %%EOF

It signs every byte before its own line (the PDF exactly as built), with no
hash or prefix in between, so anyone can check it without Baqylau: cut the last
two lines and verify with ``openssl pkeyutl -verify -rawin`` (docs/report.md).
Anything appended later (an incremental update that changes a figure) leaves
the signature line no longer last, and any changed byte before it breaks the
signature.

The signing key is separate from the organisation's encryption key
(``observer.sealed``, X25519 cannot sign); ``baqylau org-keygen`` creates both.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from observer.errors import BaqylauError
from observer.signing import fingerprint_of

SIGN_PRIVATE_FILE = "org-ed25519.pem"
SIGN_PUBLIC_FILE = "org-ed25519.pub.pem"
MAX_KEY_FILE = 64 * 1024
_MARK = b"%baqylau-signature v1 ed25519 "
_BLOCK = re.compile(rb"%baqylau-signature v1 ed25519 ([0-9a-f]{64}) ([A-Za-z0-9+/]{86}==)\n%%EOF\n\Z")


class SigningError(BaqylauError):
    """A signing key file cannot be used."""

    key = "report.error.sign_key"


@dataclass(frozen=True)
class SignedParts:
    """A PDF split into what was signed and the signature that follows it."""

    signed: bytes
    public_hex: str
    signature: bytes


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(public_hex: str) -> str:
    """The printed form of a signing key (the same form as observers' keys)."""
    return fingerprint_of(public_hex)


def generate_signing_keys(folder: Path) -> tuple[Path, Path, str]:
    """Create the organisation's report-signing key pair in ``folder``; never overwrite one."""
    folder = Path(folder)
    private_path, public_path = folder / SIGN_PRIVATE_FILE, folder / SIGN_PUBLIC_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError("rel.orgkey.exists", file=str(path))
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    folder.mkdir(parents=True, exist_ok=True)
    _write_new(private_path, pem, 0o600)
    try:
        _write_new(public_path, pub, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path, key_fingerprint(_raw_public(private.public_key()).hex())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # 0600 from the start
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.link(tmp, path)  # fails if the name appeared meanwhile: never overwrite a key
    finally:
        os.unlink(tmp)


def _read(path: str | Path) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_KEY_FILE:
            raise SigningError("report.error.sign_key", file=str(p))
        return p.read_bytes()
    except OSError:
        raise SigningError("report.error.sign_key", file=str(p)) from None


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError):
        raise SigningError("report.error.sign_key", file=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError("report.error.sign_key", file=str(path))
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path))
    except (ValueError, TypeError):
        raise SigningError("report.error.sign_key", file=str(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError("report.error.sign_key", file=str(path))
    return key


def public_hex(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _raw_public(pub).hex()


def sign_pdf(pdf: bytes, key: Ed25519PrivateKey) -> bytes:
    """The PDF with the signature lines appended (the PDF must end with its ``%%EOF`` line)."""
    if not pdf.endswith(b"%%EOF\n"):
        pdf += b"\n" if not pdf.endswith(b"\n") else b""
    signature = base64.b64encode(key.sign(pdf))
    return pdf + _MARK + public_hex(key).encode("ascii") + b" " + signature + b"\n%%EOF\n"


def split_signature(data: bytes) -> SignedParts | None:
    """The signed bytes and the signature, if the file ends with a signature block (else None)."""
    at = data.rfind(_MARK)
    if at < 0:
        return None
    match = _BLOCK.match(data, at)
    if match is None:
        return None  # a signature line that is not the last thing in the file: something was appended
    try:
        signature = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        return None
    return SignedParts(data[:at], match.group(1).decode("ascii"), signature)


def unsigned(data: bytes) -> bytes:
    """The PDF as built: the bytes before a signature block (all of ``data`` without one)."""
    parts = split_signature(data)
    return parts.signed if parts is not None else data


def verify_pdf(data: bytes, key: Ed25519PublicKey) -> tuple[bool, str | None]:
    """(valid, key in the signature as hex) for a signed PDF; (False, None) for an unsigned one."""
    parts = split_signature(data)
    if parts is None:
        return False, None
    if parts.public_hex != public_hex(key):
        return False, parts.public_hex
    try:
        key.verify(parts.signature, parts.signed)
    except InvalidSignature:
        return False, parts.public_hex
    return True, parts.public_hex


__all__ = [
    "SIGN_PRIVATE_FILE",
    "SIGN_PUBLIC_FILE",
    "SignedParts",
    "SigningError",
    "generate_signing_keys",
    "key_fingerprint",
    "load_public_key",
    "load_signing_key",
    "public_hex",
    "sign_pdf",
    "split_signature",
    "unsigned",
    "verify_pdf",
]
