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
import re
import sys
from collections.abc import Sequence

from observer import i18n
from observer.errors import BaqylauError
from observer.safe_text import terminal_error
from observer.version import APP_VERSION

# Modules that add sub-commands -> the commands each adds, with the message key of each
# command's one-line help (the module's parser uses the same key). Only the module of the command
# being run is imported: `baqylau --help` and every command start without loading SQLAlchemy,
# ReportLab or Qt for commands that are not run.
CLI_MODULES: dict[str, dict[str, str]] = {
    "db.cli_template": {"template": "cli.help.template"},
    "reports.cli": {"report": "report.cli.help", "verify-report": "report.cli.verify_help"},
    "db.cli_merge": {
        "merge": "package.help.merge",
        "export-hq": "package.help.export_hq",
        "keys": "package.help.keys",
        "conflicts": "package.help.conflicts",
    },
    "db.cli_forensics": {"forensics": "forensics.cli.help"},
    "db.cli_coordinator": {
        "official": "coord.help.official",
        "stations": "coord.help.stations",
        "aggregate": "coord.help.aggregate",
        "gaps": "coord.help.gaps",
        "violations": "coord.help.violations",
        "check": "coord.help.check",
        "demo": "coord.help.demo",
    },
    "db.cli_hq": {"hq": "hq.help"},
    "db.cli_reliability": {"org-keygen": "rel.help.org_keygen", "evidence-reuse": "rel.help.evidence_reuse"},
}
COMMANDS: frozenset[str] = frozenset(c for names in CLI_MODULES.values() for c in names) | {"gui"}
# Options that apply to every command, accepted before or after it (as git and pip accept theirs).
GLOBAL_OPTIONS = ("--lang",)
# Commands with an option of the same name of their own: `report ... --lang kk` is the report's
# language (and, with no `--lang` before the command, the messages' language too).
OWN_OPTIONS: dict[str, tuple[str, ...]] = {"report": ("--lang",)}
# `scheme://...`: a database URL. Only PostgreSQL's, and only for the commands (and, where given,
# the actions) that run on a PostgreSQL HQ today; an empty tuple: every action of the command.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PG_URL = re.compile(r"^postgres(ql)?(\+psycopg)?://", re.IGNORECASE)
_PASSWORD = re.compile(r"^([^:/]+://[^:/@]*):[^@]*@")  # user:secret@ -> user:***@ in messages
PG_COMMANDS: dict[str, tuple[str, ...]] = {
    "keys": ("list", "revoke", "trust", "import"),
    "merge": (),
    "official": ("import",),
    "stations": ("import",),
    "aggregate": (),
    "conflicts": (),
    "check": (),
    "gaps": (),
    "violations": (),
    "forensics": (),
    "report": (),
    "verify-report": (),
    "hq": ("copy",),
    "export-hq": (),
    "gui": (),  # `baqylau postgresql://...`: the coordinator window on a shared HQ
    "evidence-reuse": (),  # thumbnails and hashes are in the evidence rows: nothing read from files
}


def build_parser(with_commands: bool | str = True) -> argparse.ArgumentParser:
    """The parser; ``with_commands`` is True (every command module), False (none) or one command.

    With one command, only that command's module is imported; the other commands are listed with
    their one-line help, so `baqylau --help` shows them all.
    """
    parser = argparse.ArgumentParser(
        prog="baqylau",
        description="Baqylau: offline tool for independent election observers. Without a command, opens the desktop app.",
    )
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help=i18n.tr("cli.help.lang"))
    parser.add_argument("--version", action="version", version=f"baqylau {APP_VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("file", nargs="?", help="election file to open")
    gui.set_defaults(func=_run_gui)
    if with_commands is False:
        return parser
    for module, commands in CLI_MODULES.items():
        if with_commands is True or with_commands in commands:
            importlib.import_module(module).register(sub)
        else:
            for name, key in commands.items():
                sub.add_parser(name, help=i18n.tr(key), add_help=False)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from ui.app import run  # Qt is imported only when the window is wanted

    return run(getattr(args, "file", None))


def _hoist_global_options(argv: list[str]) -> list[str]:
    """``baqylau official import HQ F --lang en`` == ``baqylau --lang en official import HQ F``.

    Global options are moved before the command (up to a ``--``, after which every word is a
    file name); each command's own options stay where they are.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    command = next((a for a in argv[:end] if a in COMMANDS), None)
    at = argv.index(command) if command else end
    hoisted = tuple(o for o in GLOBAL_OPTIONS if o not in OWN_OPTIONS.get(command or "", ()))
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < end:
        a = argv[i]
        options = GLOBAL_OPTIONS if i < at else hoisted
        if a in options and i + 1 < end:
            front += [a, argv[i + 1]]
            i += 2
            continue
        if a.split("=", 1)[0] in options and "=" in a:
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest + argv[end:]


def _lang_in(argv: Sequence[str]) -> str | None:
    """The value of ``--lang X`` / ``--lang=X`` in ``argv`` (argparse checks it afterwards)."""
    found = None  # the last one wins, as in argparse
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif a.startswith("--lang="):
            found = a.split("=", 1)[1]
    return found


def _locale_lang(environ: os._Environ[str] | dict[str, str]) -> str | None:
    """The language of the user's locale (POSIX order: LC_ALL, LC_MESSAGES, LANG), if it is one of ours."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "")
        if value:
            code = value.split(".", 1)[0].split("_", 1)[0].lower()
            return code if code in i18n.LANGUAGES else None
    return None


def choose_language(argv: Sequence[str], environ: os._Environ[str] | dict[str, str]) -> str:
    """``--lang`` (before the command, else a command's own), else ``$BAQYLAU_LANG``, else the locale's, else Russian."""
    command = next((i for i, a in enumerate(argv) if a in COMMANDS and (i == 0 or argv[i - 1] != "--lang")), len(argv))
    for lang in (_lang_in(argv[:command]), _lang_in(argv), environ.get("BAQYLAU_LANG"), _locale_lang(environ)):
        if lang in i18n.LANGUAGES:
            return lang
    return i18n.DEFAULT_LANGUAGE


def _refuse_urls(argv: Sequence[str]) -> None:
    """A database URL would otherwise be taken for a file name and create a folder ``postgresql:``.

    A ``postgresql://`` HQ is let through to the commands that run on PostgreSQL today
    (:data:`PG_COMMANDS`, docs/postgresql.md); any other command, or any other kind of URL, is
    refused here, before anything is opened or written.
    """
    command = next((a for a in argv if a in COMMANDS), "gui")
    for i, a in enumerate(argv):
        if a == "--":
            break
        if not _URL.match(a):
            continue
        if not _PG_URL.match(a):
            raise BaqylauError(i18n.tr("cli.url_unsupported", url=a))
        # `keys URL ACTION` (the action right after the URL) or `stations ACTION URL` (right after the
        # command); an option's value is never taken for the action.
        at = argv.index(command) + 1 if command in argv else len(argv)
        if at == i:
            action = argv[i + 1] if i + 1 < len(argv) else ""
        else:
            action = argv[at] if at < len(argv) else ""
        allowed = PG_COMMANDS.get(command)
        if allowed is None or (allowed and action not in allowed):
            ported = ", ".join(f"{c} {x}".strip() for c, xs in PG_COMMANDS.items() for x in (xs or ("",)))
            shown = _PASSWORD.sub(r"\1:***@", a)
            name = f"{command} {action}".strip() if allowed else command
            raise BaqylauError(i18n.tr("cli.url_not_ported", url=shown, command=name, ported=ported))


def main(argv: Sequence[str] | None = None) -> int:
    argv = _hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    # `baqylau` and `baqylau FILE.baqylau` open the app.
    first = next((a for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] != "--lang")), None)
    if first is None or first not in COMMANDS:
        pos = argv.index(first) if first is not None else len(argv)
        argv.insert(pos, "gui")
        first = "gui"
    wants_help = any(a in ("-h", "--help") for a in argv)
    # The language first: the parser's help texts are translated when it is built.
    i18n.set_language(choose_language(argv, os.environ))
    try:
        _refuse_urls(argv)
        # Only the module of the command run is imported (for `--help` alone: none, commands listed).
        args = build_parser(with_commands=first if first != "gui" or wants_help else False).parse_args(argv)
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
