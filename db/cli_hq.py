"""``baqylau hq copy SRC DST``: an HQ moved between a file and a PostgreSQL database (db/hq_copy.py)."""

from __future__ import annotations

import argparse
from typing import Any

from db.cli_output import add_summary_options, print_json, says_text
from db.hq_copy import copy_hq
from observer.i18n import tr
from observer.safe_text import terminal


def register(sub: Any) -> None:
    p = sub.add_parser("hq", help=tr("hq.help"))
    actions = p.add_subparsers(dest="hq_action", required=True, metavar="ACTION")
    c = actions.add_parser("copy", help=tr("hq.help.copy"), description=tr("hq.help.copy_long"))
    c.add_argument("source", metavar="SRC")
    c.add_argument("destination", metavar="DST")
    add_summary_options(c)
    c.set_defaults(func=_copy)


def _copy(args: argparse.Namespace) -> int:
    report = copy_hq(args.source, args.destination)
    total = sum(report.rows.values())
    if args.summary_format == "json":
        print_json(
            {
                "source": report.source,
                "destination": report.destination,
                "rows": report.rows,
                "total_rows": total,
                "digest": report.digest,
                "evidence_files": report.evidence_files,
            }
        )
    elif says_text(args):
        print(
            tr(
                "hq.cli.copied",
                count=total,
                source=terminal(report.source),
                destination=terminal(report.destination),
                digest=report.digest[:16],
            )
        )
    return 0
