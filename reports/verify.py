"""``verify-report``: rebuild a report from the HQ file and compare bytes; check the organisation's signature.

A report is built reproducibly (reports.build: invariant mode, the data's own
time), so the only honest test of "this PDF shows this data" is to build it
again with the options recorded in it and compare every byte: an edited
figure, an incremental update, a PDF that merely carries the fingerprint
keyword, or an old report after a merge that changed anything shown all fail.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from db.store import ElectionStore
from observer.report_signing import split_signature, unsigned, verify_pdf
from reports.build import ReportError, build_report
from reports.fingerprint import ReportOptions, ReportVerifyError, data_fingerprint, read_pdf_bytes


@dataclass(frozen=True)
class Rebuilt:
    same: bool
    first_difference: int  # byte offset of the first difference (-1 when the same)
    fingerprint_in_pdf: str | None
    fingerprint_now: str


def rebuild_and_compare(pdf: str | Path, hq: str | Path, logo: str | Path | None = None) -> Rebuilt:
    """Build the report again from ``hq`` with the options recorded in ``pdf`` and compare the bytes."""
    from reports.fingerprint import read_pdf_fingerprint

    data = unsigned(read_pdf_bytes(pdf))
    options = ReportOptions.from_pdf(data)
    if options is None:
        raise ReportVerifyError("report.cli.no_options")
    if options.logo_sha256 and logo is None:
        raise ReportError("report.cli.needs_logo", sha=options.logo_sha256[:16])
    store = ElectionStore.open(hq)
    try:
        with tempfile.TemporaryDirectory(prefix="baqylau-verify-") as folder:
            out = Path(folder) / "rebuilt.pdf"
            build_report(
                store,
                out,
                options.lang,
                title=options.title,
                org=options.organisation,
                logo=logo if options.logo_sha256 else None,
            )
            again = out.read_bytes()
        now = data_fingerprint(store)
    finally:
        store.close()
    same = again == data
    first = -1
    if not same:
        first = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), len(data)))
    return Rebuilt(same, first, read_pdf_fingerprint(pdf), now)


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool  # the file ends with a signature block
    valid: bool
    key_in_signature: str | None


def check_signature(pdf: str | Path, key: Ed25519PublicKey) -> SignatureCheck:
    data = read_pdf_bytes(pdf)
    valid, key_hex = verify_pdf(data, key)
    return SignatureCheck(split_signature(data) is not None, valid, key_hex)


__all__ = ["Rebuilt", "SignatureCheck", "check_signature", "rebuild_and_compare"]
