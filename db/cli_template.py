"""`baqylau template list`, `template check FILE` and `template new --from-csv FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from observer.csvio import read_csv
from observer.draft import make_draft, open_questions, slug
from observer.errors import ImportDataError
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
    new = tsub.add_parser("new", help="draft a template and a column mapping from a results CSV's header")
    new.add_argument("--from-csv", dest="from_csv", required=True, metavar="CSV", help="the results file")
    new.add_argument("--out", default=".", help="folder for the two drafted files (default: here)")
    new.add_argument("--id", default="", help="template id (default: from the file name)")
    new.add_argument("--date", default="", help="election day, YYYY-MM-DD")
    new.add_argument("--country", default="", help="ISO country code (KZ: Kazakhstan's regions)")
    new.add_argument("--encoding", default="auto", choices=("auto", "utf-8", "cp1251"))
    new.set_defaults(func=_new)


def _list(args: argparse.Namespace) -> int:
    for tid in BUILTIN_TEMPLATES:
        print(f"{tid}\t{builtin_template(tid).names.get()}")
    return 0


def _check(args: argparse.Namespace) -> int:
    t = resolve_template(args.file)  # raises TemplateError with the line
    print(tr("cli.template.ok", id=t.id, lines=len(t.lines), parties=len(t.parties), checks=len(t.checks)))
    left = open_questions(t.source_text)
    if left:
        print(tr("cli.template.open_questions", count=len(left)))
        for number, line in left:
            print(f"  {number}: {line}")
    return 0


def _new(args: argparse.Namespace) -> int:
    table = read_csv(args.from_csv, encoding=args.encoding)
    if not table.rows:
        raise ImportDataError("coord.csv.no_rows", file=table.name)
    stem = Path(args.from_csv).stem
    template_id = args.id or slug(stem, "draft").replace("_", "-")
    draft = make_draft(table, template_id=template_id, date=args.date, country=args.country)
    out = Path(args.out)
    paths = (out / f"{stem}.template.toml", out / f"{stem}.mapping.toml")
    for path in paths:
        if path.exists():  # a draft the user has started finishing must never be overwritten
            raise ImportDataError("cli.template.exists", file=str(path))
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths[0].write_text(draft.template, encoding="utf-8")
        paths[1].write_text(draft.mapping, encoding="utf-8")
    except OSError as exc:
        raise ImportDataError("coord.csv.unreadable", file=str(out), problem=exc.strerror or str(exc)) from None
    roles = [c.role.split(":", 1)[0] for c in draft.columns]
    print(
        tr(
            "cli.template.drafted",
            template=str(paths[0]),
            mapping=str(paths[1]),
            lines=roles.count("line"),
            parties=roles.count("party"),
            checks=len(draft.relations),
            left=len(open_questions(draft.template)) + len(open_questions(draft.mapping)),
        )
    )
    return 0
