"""What scripted commands share: ``--quiet``, ``--format text|json`` summaries, progress on a terminal only.

``merge``, ``official import``, ``stations import`` and ``check`` take these options, so a
script reads one JSON object from standard output instead of parsing sentences in the user's
language, and a log file never collects a progress line rewritten with carriage returns.
Exit status, for every command: 0 done, 1 done with findings (``check``: a control relation
broken), 2 refused (bad input, nothing written), 130 interrupted, 141 output closed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from observer.i18n import tr
from observer.safe_text import terminal

SUMMARY_FORMATS: tuple[str, ...] = ("text", "json")


def add_summary_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=tr("cli.help.quiet"))
    parser.add_argument(
        "--format", dest="summary_format", choices=SUMMARY_FORMATS, default="text", help=tr("cli.help.summary_format")
    )


def says_text(args: argparse.Namespace) -> bool:
    """Whether the command writes its sentences (not with --quiet, not with --format json)."""
    return args.summary_format == "text" and not args.quiet


def print_json(data: Any) -> None:
    """One JSON document on standard output; names from the user's files cannot steer the terminal."""
    sys.stdout.write(terminal(json.dumps(data, ensure_ascii=False, indent=1), keep_newlines=True) + "\n")


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False
