"""The coordinator's decisions about signing keys: trust, role, revocation, and key-observer bindings.

These are the functions the command line (``baqylau keys``) and the coordinator's
Keys tab call; the merge reads the same table through ``KeyBook``.

* A key is ``pending`` (seen in a held package), ``trusted`` or ``revoked``.
* A trusted key has a role: ``observer`` (may sign its own station's packages) or
  ``district`` (may also sign ``kind = "hq"`` packages of a district coordinator).
* A key is bound to one observer id, recorded by the first package merged from it;
  an observer id is bound to one key (unique index, revision 0006). The binding is
  never moved by a package: a package that would move it is refused, naming both.
* Trusting needs the whole fingerprint (32 hex digits, 128 bits) or the public key
  (64 hex digits): a short prefix could be matched by a key ground to collide with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Update, bindparam, insert, select, text, update

from db import models as m
from db.store import ElectionStore, now
from observer.errors import PackageError
from observer.package import KEY_ROLES, ROLE_DISTRICT, ROLE_OBSERVER
from observer.signing import fingerprint_of, is_public_hex, normalize_fingerprint

TRUSTED = "trusted"
REVOKED = "revoked"
PENDING = "pending"
MERGED = "merged"
HELD = "held"
TOFU_META_KEY = "trust_new_keys"  # "1": approve unknown keys on first use (small teams)
TOFU_DECIDER = "trust-on-first-use"
FINGERPRINT_DIGITS = 32  # 128 bits: the whole fingerprint
MIN_PREFIX_DIGITS = 4  # revoking by a prefix (a unique one) stays possible
MAX_KEY_FILE = 1024 * 1024

__all__ = [
    "KEY_ROLES",
    "ROLE_DISTRICT",
    "ROLE_OBSERVER",
    "KeyBook",
    "KeyInfo",
    "import_keys",
    "list_keys",
    "revoke_key",
    "set_key_role",
    "set_trust_on_first_use",
    "trust_key",
    "trust_on_first_use",
]


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    public_key: str
    label: str
    status: str  # trusted | revoked | pending
    decided_by: str
    decided_at: datetime | None
    merged_packages: int
    held_packages: int
    signers: tuple[str, ...] = ()  # names in the packages signed with this key
    role: str = ROLE_OBSERVER  # observer | district
    observer_id: str | None = None  # the observer this key signs for (bound by its first package)
    observer_name: str = ""


@dataclass
class KeyBook:
    """The trusted_keys table as the merge sees it: status, role and binding per fingerprint.

    Loaded once per run and kept up to date by the merge as it writes; the database
    (unique binding index, conditional updates in the package's transaction) has the
    last word when another program writes the same file meanwhile.
    """

    status: dict[str, str] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)
    bound: dict[str, str] = field(default_factory=dict)  # fingerprint -> observer id
    owner: dict[str, str] = field(default_factory=dict)  # observer id -> fingerprint

    @classmethod
    def load(cls, conn: Connection) -> KeyBook:
        book = cls()
        q = select(m.TrustedKey.fingerprint, m.TrustedKey.status, m.TrustedKey.role, m.TrustedKey.observer_id)
        for fpr, status, role, observer_id in conn.execute(q):
            book.status[fpr] = status
            book.role[fpr] = role or ROLE_OBSERVER
            if observer_id:
                book.bind(fpr, observer_id)
        return book

    def bind(self, fingerprint: str, observer_id: str) -> None:
        self.bound[fingerprint] = observer_id
        self.owner[observer_id] = fingerprint

    def is_district(self, fingerprint: str) -> bool:
        return self.status.get(fingerprint) == TRUSTED and self.role.get(fingerprint) == ROLE_DISTRICT


# ---- settings --------------------------------------------------------------------


def trust_on_first_use(hq: ElectionStore) -> bool:
    """Off unless the coordinator turned it on: a new key's packages wait for a human decision."""
    return hq.meta(TOFU_META_KEY) == "1"


def set_trust_on_first_use(hq: ElectionStore, enabled: bool) -> None:
    hq.set_meta(TOFU_META_KEY, "1" if enabled else "0")


# ---- writing ---------------------------------------------------------------------


def write_key(
    conn: Connection,
    public_key: str,
    label: str,
    status: str,
    decided_by: str,
    role: str | None = None,
    *,
    new: bool = False,
) -> None:
    """Insert or update one key's decision (``role`` None keeps the role it has, observer if new).

    ``new``: the caller has just read, in this transaction (under the key's lock on PostgreSQL),
    that the HQ has no row for the key; the merge's trust on first use does, once a package.

    On PostgreSQL the decision first takes the key's lock, the one a merge holds while it writes
    packages signed with the key (db.merge_batch): trusting or revoking waits for that batch, so
    the merge and ``release_held`` see each other's result (docs/postgresql.md).
    """
    fpr = fingerprint_of(public_key)
    if conn.dialect.name == "postgresql":
        from db.merge_batch import lock_key  # the merge's machinery, imported only where it is needed

        conn.execute(_LOCK_KEY, {"k": lock_key("key:" + fpr)})
    t = now()
    decided_at = t if status != PENDING else None
    values: dict[str, object] = {"status": status, "decided_by": decided_by, "decided_at": decided_at, "updated_at": t}
    if label:
        values["label"] = label
    if role is not None:
        values["role"] = role
    if not new and conn.execute(_update_key(tuple(values)), {"fpr": fpr, **_set(values)}).rowcount:
        return
    values.setdefault("role", ROLE_OBSERVER)
    values.setdefault("label", "")
    conn.execute(
        _INSERT_KEY, {"id": m.new_id(), "fingerprint": fpr, "public_key": public_key, "created_at": t, **values}
    )


# Built once (a merge trusting a new key on first use writes one a package: building the
# statements per call cost more than running them).
_INSERT_KEY = insert(m.TrustedKey)
_LOCK_KEY = text("SELECT pg_advisory_xact_lock(:k)")


@cache
def _update_key(columns: tuple[str, ...]) -> Update:
    return (
        update(m.TrustedKey)
        .where(m.TrustedKey.fingerprint == bindparam("fpr"))
        .values({c: bindparam("set_" + c) for c in columns})
    )


def _set(values: dict[str, object]) -> dict[str, object]:
    return {"set_" + c: v for c, v in values.items()}


def _upsert_key(
    hq: ElectionStore, public_key: str, label: str, status: str, decided_by: str, role: str | None = None
) -> None:
    with hq._write() as conn:
        write_key(conn, public_key, label, status, decided_by, role)


def _check_role(role: str | None) -> None:
    if role is not None and role not in KEY_ROLES:
        raise PackageError("package.key.bad_role", role=role[:40], roles=", ".join(KEY_ROLES))


def _known_keys(hq: ElectionStore) -> dict[str, str]:
    with hq.engine.connect() as conn:
        known = {r[0]: r[1] for r in conn.execute(select(m.TrustedKey.fingerprint, m.TrustedKey.public_key))}
        for fpr, pub in conn.execute(select(m.Package.key_fingerprint, m.Package.public_key).distinct()):
            if fpr and pub:
                known.setdefault(fpr, pub)
    return known


def find_key(hq: ElectionStore, typed: str, *, whole: bool = False) -> tuple[str, str]:
    """(fingerprint, public key) for what the user typed.

    ``whole``: only the complete fingerprint (32 hex digits) or the public key (64)
    is accepted, for decisions that give a key rights. Otherwise a unique prefix of
    at least ``MIN_PREFIX_DIGITS`` digits is enough (revoking takes rights away).
    """
    digits = normalize_fingerprint(typed).replace("-", "")
    if len(digits) == 2 * FINGERPRINT_DIGITS and is_public_hex(digits):
        return fingerprint_of(digits), digits
    if whole and len(digits) != FINGERPRINT_DIGITS:
        raise PackageError("package.key.need_whole", fingerprint=typed[:80], digits=FINGERPRINT_DIGITS)
    if len(digits) < MIN_PREFIX_DIGITS:
        raise PackageError("package.key.unknown", fingerprint=typed[:80])
    wanted = normalize_fingerprint(digits)
    known = _known_keys(hq)
    matches = [f for f in known if f.startswith(wanted)]
    if not matches:
        raise PackageError("package.key.unknown", fingerprint=typed[:80])
    if len(matches) > 1:
        raise PackageError("package.key.ambiguous", fingerprint=typed[:80])
    return matches[0], known[matches[0]]


def _info(hq: ElectionStore, fpr: str) -> KeyInfo:
    return next(k for k in list_keys(hq) if k.fingerprint == fpr)


def trust_key(
    hq: ElectionStore, fingerprint: str, label: str = "", decided_by: str = "", role: str | None = None
) -> KeyInfo:
    """Trust a key by its whole fingerprint (or public key); ``role`` None keeps its role (observer if new).

    ``release_held`` then merges the packages held for it.
    """
    _check_role(role)
    fpr, pub = find_key(hq, fingerprint, whole=True)
    _upsert_key(hq, pub, label.strip(), TRUSTED, decided_by.strip(), role)
    return _info(hq, fpr)


def set_key_role(hq: ElectionStore, fingerprint: str, role: str, decided_by: str = "") -> KeyInfo:
    """Change a trusted key's role (observer <-> district), by its whole fingerprint."""
    _check_role(role)
    fpr, pub = find_key(hq, fingerprint, whole=True)
    with hq._write() as conn:
        conn.execute(
            update(m.TrustedKey)
            .where(m.TrustedKey.fingerprint == fpr)
            .values(role=role, decided_by=decided_by.strip(), decided_at=now(), updated_at=now())
        )
    return _info(hq, fpr)


def revoke_key(hq: ElectionStore, fingerprint: str, decided_by: str = "") -> KeyInfo:
    """Refuse the key's future packages; data already merged stays but the trusted-only rule drops it.

    Its binding stays: the observer id it signed for cannot be taken over by another key.
    """
    fpr, pub = find_key(hq, fingerprint)
    _upsert_key(hq, pub, "", REVOKED, decided_by.strip())
    return _info(hq, fpr)


def import_keys(hq: ElectionStore, file: Path, decided_by: str = "", role: str | None = None) -> list[KeyInfo]:
    """Trust the keys listed in a text file: one ``<public key hex> [label]`` per line, ``#`` comments.

    The whole file is checked first: one bad line and no key is imported.
    """
    _check_role(role)
    path = Path(file)
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise PackageError("package.key.too_big", file=path.name)
        data = path.read_bytes()
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=path.name, problem=exc.strerror or str(exc)) from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageError("package.key.bad_line", file=path.name, line=1) from None
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(content.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        pub = parts[0].lower()
        if not is_public_hex(pub):
            raise PackageError("package.key.bad_line", file=path.name, line=number)
        entries.append((pub, parts[1].strip()[:200] if len(parts) > 1 else ""))
    if not entries:
        raise PackageError("package.key.empty_file", file=path.name)
    with hq._write() as conn:  # all or nothing
        # in fingerprint order: keys' locks are taken in one order by everyone (db.merge_batch)
        for pub, label in sorted(entries, key=lambda e: fingerprint_of(e[0])):
            write_key(conn, pub, label, TRUSTED, decided_by.strip(), role)
    wanted = {fingerprint_of(pub) for pub, _ in entries}
    return [k for k in list_keys(hq) if k.fingerprint in wanted]


def list_keys(hq: ElectionStore) -> list[KeyInfo]:
    with hq.engine.connect() as conn:
        counts: dict[tuple[str, str], int] = {}
        q = text(
            "SELECT key_fingerprint, outcome, count(*) FROM packages WHERE key_fingerprint IS NOT NULL "
            "GROUP BY key_fingerprint, outcome"
        )
        for fpr, outcome, n in conn.execute(q):
            counts[(fpr, outcome)] = int(n)
        signers: dict[str, list[str]] = {}
        q = text(
            "SELECT DISTINCT key_fingerprint, signer_name FROM packages WHERE key_fingerprint IS NOT NULL "
            "ORDER BY signer_name"
        )
        for fpr, name in conn.execute(q):
            if name:
                signers.setdefault(fpr, []).append(name)
        names = {r[0]: r[1] for r in conn.execute(text("SELECT id, name FROM observers"))}
        rows = conn.execute(select(m.TrustedKey).order_by(m.TrustedKey.status, m.TrustedKey.fingerprint)).all()
    return [
        KeyInfo(
            r.fingerprint,
            r.public_key,
            r.label,
            r.status,
            r.decided_by,
            r.decided_at,
            counts.get((r.fingerprint, MERGED), 0),
            counts.get((r.fingerprint, HELD), 0),
            tuple(signers.get(r.fingerprint, ())),
            r.role or ROLE_OBSERVER,
            r.observer_id,
            names.get(r.observer_id, "") if r.observer_id else "",
        )
        for r in rows
    ]
