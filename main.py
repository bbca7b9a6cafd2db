"""Baqylau: `baqylau` opens the desktop app; `baqylau COMMAND ...` runs a command-line job.

Command-line jobs are registered by modules listed in CLI_MODULES, with the
commands each adds; each module has a ``register(subparsers)`` whose handlers,
stored as ``func``, return the process exit code. The command names are listed
here so that opening the app does not import every command's module (ReportLab,
numpy...): start-up time is what an observer waits for.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from observer import i18n
from observer.errors import BaqylauError
from observer.safe_text import terminal_error

# Modules that add sub-commands -> the commands each adds (each owns their help texts).
CLI_MODULES: dict[str, tuple[str, ...]] = {
    "db.cli_template": ("template",),
    "reports.cli": ("report", "verify-report"),
    "db.cli_merge": ("merge", "export-hq", "keys", "conflicts"),
    "db.cli_forensics": ("forensics",),
    "db.cli_coordinator": ("official", "stations", "aggregate", "gaps", "violations", "check", "demo"),
    "db.cli_reliability": ("org-keygen", "evidence-reuse"),
}
COMMANDS: frozenset[str] = frozenset(c for names in CLI_MODULES.values() for c in names) | {"gui"}


def build_parser(with_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baqylau",
        description="Baqylau: offline tool for independent election observers. Without a command, opens the desktop app.",
    )
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="language of messages (default: $BAQYLAU_LANG or ru)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("file", nargs="?", help="election file to open")
    gui.set_defaults(func=_run_gui)
    if with_commands:
        for name in CLI_MODULES:
            importlib.import_module(name).register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from ui.app import run  # Qt is imported only when the window is wanted

    return run(getattr(args, "file", None))


def _lang_in(argv: Sequence[str]) -> str | None:
    """The value of ``--lang X`` / ``--lang=X`` in ``argv`` (argparse checks it afterwards)."""
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `baqylau` and `baqylau FILE.baqylau` open the app.
    first = next((a for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] != "--lang")), None)
    if first is None or first not in COMMANDS:
        pos = argv.index(first) if first is not None else len(argv)
        argv.insert(pos, "gui")
        first = "gui"
    wants_help = any(a in ("-h", "--help") for a in argv)
    # The language first: the parser's help texts are translated when it is built.
    lang = _lang_in(argv) or os.environ.get("BAQYLAU_LANG") or i18n.DEFAULT_LANGUAGE
    if lang in i18n.LANGUAGES:
        i18n.set_language(lang)
    args = build_parser(with_commands=first != "gui" or wants_help).parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away shows up here, not in Python's flush at exit
        return code
    except BaqylauError as exc:
        # The message quotes the user's files (cells, names, paths): shown, never obeyed by the terminal.
        print(f"baqylau: {terminal_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("baqylau: " + i18n.tr("cli.interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _output_closed()


def _output_closed() -> int:
    """``baqylau conflicts HQ | head``: the reader closed the pipe, so stop quietly, as Unix tools do.

    Standard output is pointed at /dev/null so that the interpreter's last
    flush at exit does not fail again; the status is what a process killed by
    SIGPIPE reports (128 + 13).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (a test capturing it)
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
