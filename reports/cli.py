"""`baqylau report HQ --out report.pdf [--org-key KEY]` and `baqylau verify-report report.pdf [HQ] [--org-public KEY]`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from observer.fmt import formatter
from observer.i18n import LANGUAGES, current_language, tr
from observer.report_signing import key_fingerprint, load_public_key, public_hex
from observer.safe_text import terminal
from reports.build import build_report
from reports.fingerprint import short_fingerprint


def register(sub: Any) -> None:
    p = sub.add_parser("report", help=tr("report.cli.help"))
    p.add_argument("hq", help=tr("report.cli.arg_hq"))
    p.add_argument("--out", required=True, help=tr("report.cli.arg_out"))
    p.add_argument("--lang", dest="report_lang", choices=LANGUAGES, help=tr("report.cli.arg_lang"))
    p.add_argument("--title", help=tr("report.cli.arg_title"))
    p.add_argument("--org", help=tr("report.cli.arg_org"))
    p.add_argument("--logo", help=tr("report.cli.arg_logo"))
    p.add_argument("--org-key", dest="org_key", metavar="KEY.pem", help=tr("report.cli.arg_org_key"))
    p.set_defaults(func=_report)
    v = sub.add_parser("verify-report", help=tr("report.cli.verify_help"))
    v.add_argument("pdf", help=tr("report.cli.arg_pdf"))
    v.add_argument("hq", nargs="?", help=tr("report.cli.arg_hq"))
    v.add_argument("--org-public", dest="org_public", metavar="KEY.pub.pem", help=tr("report.cli.arg_org_public"))
    v.add_argument("--logo", help=tr("report.cli.arg_logo_verify"))
    v.set_defaults(func=_verify)


def _report(args: argparse.Namespace) -> int:
    # `--lang` before the command sets the message language; the report's own
    # `--lang` after it may differ (a Kazakh report built from a Russian console).
    lang = args.report_lang or current_language()
    info = build_report(args.hq, args.out, lang, title=args.title, org=args.org, logo=args.logo, sign_key=args.org_key)
    if not info.organisation:
        print(tr("report.cli.no_org"), file=sys.stderr)
    print(
        tr(
            "report.cli.done",
            file=terminal(info.path),
            pages=formatter(current_language()).integer(info.pages),
            seconds=formatter(current_language()).num(info.seconds, 1),
            fingerprint=short_fingerprint(info.fingerprint),
        )
    )
    if args.org_key:
        from observer.report_signing import load_signing_key

        print(
            tr(
                "report.cli.signed",
                file=str(info.path),
                key=key_fingerprint(public_hex(load_signing_key(args.org_key))),
            )
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    if not args.hq and not args.org_public:
        print(tr("report.cli.verify_needs"))
        return 2
    ok = True
    if args.org_public:
        from reports.verify import check_signature

        key = load_public_key(args.org_public)
        check = check_signature(args.pdf, key)
        mine = key_fingerprint(public_hex(key))
        if check.valid:
            print(tr("report.cli.sig_ok", key=mine))
        elif not check.signed:
            print(tr("report.cli.sig_missing"))
            ok = False
        else:
            signed = key_fingerprint(check.key_in_signature) if check.key_in_signature else "?"
            print(tr("report.cli.sig_bad", signed=signed, key=mine))
            ok = False
    if args.hq:
        from reports.verify import rebuild_and_compare

        result = rebuild_and_compare(args.pdf, args.hq, args.logo)
        if result.same:
            print(tr("report.cli.rebuilt_same", fingerprint=short_fingerprint(result.fingerprint_now)))
        else:
            claimed = terminal(short_fingerprint(result.fingerprint_in_pdf)) if result.fingerprint_in_pdf else "—"
            print(
                tr(
                    "report.cli.rebuilt_differs",
                    offset=result.first_difference,
                    report=claimed,
                    data=short_fingerprint(result.fingerprint_now),
                )
            )
            ok = False
    return 0 if ok else 1
