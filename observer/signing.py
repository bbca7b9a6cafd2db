"""Ed25519 signing keys: one key pair per installation, created on first run.

The private key never leaves the machine (PEM, file mode 0600, in
``app_home()/keys/``). Packages carry the public key and its fingerprint, a short
string that a coordinator can read out over the phone to an observer and compare.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from observer.errors import BaqylauError
from observer.paths import app_home

KEY_DIR = "keys"
KEY_FILE = "signing-ed25519.pem"
PUBLIC_KEY_HEX_LEN = 64  # 32 raw bytes


class SigningKeyError(BaqylauError):
    """The installation's signing key cannot be read or written."""

    key = "package.key.damaged"


@dataclass(frozen=True)
class KeyPair:
    public_hex: str
    fingerprint: str
    _private: Ed25519PrivateKey = field(repr=False, compare=False)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> KeyPair:
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(raw.hex(), fingerprint_of(raw.hex()), private)

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_private(Ed25519PrivateKey.generate())


def is_public_hex(text: str) -> bool:
    if len(text) != PUBLIC_KEY_HEX_LEN:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def fingerprint_of(public_hex: str) -> str:
    """First 16 bytes of SHA-256 of the raw public key, as 8 groups of 4 hex digits."""
    digest = hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


def normalize_fingerprint(text: str) -> str:
    """What a user typed (spaces, colons, upper case) -> the canonical form, or a prefix of it."""
    digits = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    return "-".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def verify_signature(public_hex: str, data: bytes, signature: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        key.verify(signature, data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_or_create_keypair(home: Path | None = None) -> KeyPair:
    """This installation's key pair, created (once, atomically) if there is none yet."""
    folder = (home if home is not None else app_home()) / KEY_DIR
    path = folder / KEY_FILE
    if path.exists():
        return _load(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        pair = KeyPair.generate()
        pem = pair._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(prefix=".key-", dir=folder)  # created with mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails if another process created the key meanwhile: theirs wins, both agree.
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            # FAT-formatted USB sticks (portable installs) have no hard links.
            if not path.exists():
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise SigningKeyError("package.key.damaged", file=str(path), problem=exc.strerror or str(exc)) from None
    return _load(path)


def _load(path: Path) -> KeyPair:
    try:
        data = path.read_bytes()
        private = serialization.load_pem_private_key(data, password=None)
    except OSError as exc:
        raise SigningKeyError("package.key.damaged", file=str(path), problem=exc.strerror or str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise SigningKeyError("package.key.damaged", file=str(path), problem=str(exc).split(". ")[0][:120]) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError("package.key.damaged", file=str(path), problem="not Ed25519")
    return KeyPair.from_private(private)
