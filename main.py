"""Baqylau: `baqylau` opens the desktop app; `baqylau COMMAND ...` runs a command-line job.

Command-line jobs are registered by modules listed in CLI_MODULES; each has a
``register(subparsers)`` that adds its sub-commands, whose handler is stored as
``func`` and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from observer import i18n
from observer.errors import BaqylauError

# Modules that add sub-commands (each owns its commands and help texts).
CLI_MODULES: list[str] = [
    "db.cli_template",
    "reports.cli",
    "db.cli_merge",
    "db.cli_forensics",
    "db.cli_coordinator",
    "db.cli_reliability",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baqylau",
        description="Baqylau: offline tool for independent election observers. Without a command, opens the desktop app.",
    )
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="language of messages (default: $BAQYLAU_LANG or ru)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("file", nargs="?", help="election file to open")
    gui.set_defaults(func=_run_gui)
    for name in CLI_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from ui.app import run  # Qt is imported only when the window is wanted

    return run(getattr(args, "file", None))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `baqylau` and `baqylau FILE.baqylau` open the app.
    commands = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    first = next((a for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] != "--lang")), None)
    if first is None or first not in commands:
        pos = argv.index(first) if first is not None else len(argv)
        argv.insert(pos, "gui")
    args = parser.parse_args(argv)
    lang = args.lang or os.environ.get("BAQYLAU_LANG") or i18n.DEFAULT_LANGUAGE
    if lang in i18n.LANGUAGES:
        i18n.set_language(lang)
    try:
        return int(args.func(args) or 0)
    except BaqylauError as exc:
        print(f"baqylau: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("baqylau: " + i18n.tr("cli.interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
