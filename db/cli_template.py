"""`baqylau template check FILE` and `baqylau template list`."""

from __future__ import annotations

import argparse
from typing import Any

from observer.i18n import tr
from observer.template import BUILTIN_TEMPLATES, builtin_template, resolve_template


def register(sub: Any) -> None:
    p = sub.add_parser("template", help=tr("cli.help.template"))
    tsub = p.add_subparsers(dest="template_command", required=True, metavar="ACTION")
    ls = tsub.add_parser("list", help="list built-in templates")
    ls.set_defaults(func=_list)
    ck = tsub.add_parser("check", help="check a template file and report the first problem with its line")
    ck.add_argument("file")
    ck.set_defaults(func=_check)


def _list(args: argparse.Namespace) -> int:
    for tid in BUILTIN_TEMPLATES:
        print(f"{tid}\t{builtin_template(tid).names.get()}")
    return 0


def _check(args: argparse.Namespace) -> int:
    t = resolve_template(args.file)  # raises TemplateError with the line
    print(tr("cli.template.ok", id=t.id, lines=len(t.lines), parties=len(t.parties), checks=len(t.checks)))
    return 0
