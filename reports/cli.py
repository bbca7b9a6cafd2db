"""`baqylau report HQ --out report.pdf --lang ru|kk|en` and `baqylau verify-report report.pdf HQ`."""

from __future__ import annotations

import argparse
from typing import Any

from db.store import ElectionStore
from observer.i18n import LANGUAGES, current_language, tr
from observer.safe_text import terminal
from reports.build import build_report
from reports.fingerprint import data_fingerprint, read_pdf_fingerprint, short_fingerprint


def register(sub: Any) -> None:
    p = sub.add_parser("report", help=tr("report.cli.help"))
    p.add_argument("hq", help=tr("report.cli.arg_hq"))
    p.add_argument("--out", required=True, help=tr("report.cli.arg_out"))
    p.add_argument("--lang", dest="report_lang", choices=LANGUAGES, help=tr("report.cli.arg_lang"))
    p.add_argument("--title", help=tr("report.cli.arg_title"))
    p.add_argument("--org", help=tr("report.cli.arg_org"))
    p.add_argument("--logo", help=tr("report.cli.arg_logo"))
    p.set_defaults(func=_report)
    v = sub.add_parser("verify-report", help=tr("report.cli.verify_help"))
    v.add_argument("pdf", help=tr("report.cli.arg_pdf"))
    v.add_argument("hq", help=tr("report.cli.arg_hq"))
    v.set_defaults(func=_verify)


def _report(args: argparse.Namespace) -> int:
    # `--lang` before the command sets the message language; the report's own
    # `--lang` after it may differ (a Kazakh report built from a Russian console).
    lang = args.report_lang or current_language()
    info = build_report(args.hq, args.out, lang, title=args.title, org=args.org, logo=args.logo)
    print(
        tr(
            "report.cli.done",
            file=terminal(info.path),
            pages=info.pages,
            seconds=f"{info.seconds:.1f}",
            fingerprint=short_fingerprint(info.fingerprint),
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    stored = read_pdf_fingerprint(args.pdf)
    if stored is None:
        print(tr("report.cli.missing", file=terminal(args.pdf)))
        return 1
    store = ElectionStore.open(args.hq)
    try:
        actual = data_fingerprint(store)
    finally:
        store.close()
    if stored == actual:
        print(tr("report.cli.match", fingerprint=short_fingerprint(actual)))
        return 0
    print(tr("report.cli.mismatch", report=short_fingerprint(stored), data=short_fingerprint(actual)))
    return 1
