"""Reliability and security commands: ``org-keygen`` (the organisation's encryption keys)
and ``evidence-reuse`` (photos submitted for more than one station)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from db.reuse import DEFAULT_THRESHOLD, HASH_BITS, IDENTICAL, find_reused_evidence
from db.services.hq import open_hq
from db.store import storage_error
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.report_signing import generate_signing_keys
from observer.safe_text import terminal
from observer.sealed import ORG_PRIVATE_FILE, generate_org_keys


class ReliabilityError(BaqylauError):
    key = "rel.error.threshold"


def register(sub: Any) -> None:
    p = sub.add_parser("org-keygen", help=tr("rel.help.org_keygen"))
    p.add_argument("dir", metavar="DIR")
    p.set_defaults(func=_org_keygen)

    p = sub.add_parser("evidence-reuse", help=tr("rel.help.evidence_reuse"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument(
        "--threshold", type=int, default=DEFAULT_THRESHOLD, help=tr("rel.help.threshold", default=DEFAULT_THRESHOLD)
    )
    p.set_defaults(func=_evidence_reuse)


def _org_keygen(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    try:
        if not (folder / ORG_PRIVATE_FILE).exists():
            files = generate_org_keys(folder)
            print(tr("rel.cli.orgkey_done", private=files.private, public=files.public, fingerprint=files.fingerprint))
        # The report-signing pair beside it (X25519 cannot sign); added to a folder that has only the first.
        private, public, fingerprint = generate_signing_keys(folder)
    except OSError as exc:
        raise storage_error(exc, folder) from None
    print(tr("report.cli.signkey_done", private=private, public=public, fingerprint=fingerprint))
    return 0


def _evidence_reuse(args: argparse.Namespace) -> int:
    if not 0 <= args.threshold <= HASH_BITS:
        raise ReliabilityError("rel.error.threshold", max=HASH_BITS)
    hq = open_hq(args.hq)
    try:
        pairs = find_reused_evidence(hq, args.threshold)
    finally:
        hq.close()
    if not pairs:
        print(tr("rel.cli.reuse_none"))
        return 0
    for pair in pairs:
        kind = tr("rel.reuse.identical") if pair.kind == IDENTICAL else tr("rel.reuse.near", distance=pair.distance)
        print(
            tr(
                "rel.cli.reuse_pair",
                kind=kind,
                station_a=terminal(pair.a.station_code),
                observer_a=terminal(pair.a.observer_name or "—"),
                file_a=terminal(f"{pair.a.original_name} [{pair.a.stored_name}]"),
                station_b=terminal(pair.b.station_code),
                observer_b=terminal(pair.b.observer_name or "—"),
                file_b=terminal(f"{pair.b.original_name} [{pair.b.stored_name}]"),
            )
        )
    identical = sum(1 for p in pairs if p.kind == IDENTICAL)
    print(tr("rel.cli.reuse_summary", pairs=len(pairs), identical=identical, near=len(pairs) - identical))
    return 0
