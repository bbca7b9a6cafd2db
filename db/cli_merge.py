"""Coordinator commands: ``merge``, ``export-hq``, ``keys`` and ``conflicts``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any, Literal

from db.cli_output import add_summary_options, is_terminal, print_json, says_text
from db.conflicts import effective_protocols, resolution_history, resolve_station, station_conflicts
from db.held import release_held
from db.merge import (
    DUPLICATE,
    HELD,
    MERGED,
    REFUSED,
    MergeReport,
    PackageOutcome,
    import_keys,
    list_keys,
    merge_packages,
    revoke_key,
    trust_key,
)
from db.package import export_hq_package
from db.rules import load_rules
from db.services.hq import open_hq
from db.services.reviews import open_reviews
from db.store import ElectionStore
from observer.errors import PackageError
from observer.fmt import formatter
from observer.i18n import tr
from observer.package import KEY_ROLES
from observer.safe_text import terminal
from observer.sealed import load_org_private

DEFAULT_TEMPLATE = "kz-majilis-2021"


def register(sub: Any) -> None:
    p = sub.add_parser("merge", help=tr("package.help.merge"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--template", default=DEFAULT_TEMPLATE, help=tr("package.help.template"))
    p.add_argument("--trust-new-keys", action="store_true", help=tr("package.help.trust_new_keys"))
    p.add_argument("--org-key", default=None, metavar="FILE", help=tr("rel.help.org_key"))
    p.add_argument("--print-committed", action="store_true", help=tr("package.help.print_committed"))
    add_summary_options(p)
    p.set_defaults(func=_merge)

    p = sub.add_parser("export-hq", help=tr("package.help.export_hq"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("outdir", metavar="OUTDIR")
    p.set_defaults(func=_export_hq)

    p = sub.add_parser("keys", help=tr("package.help.keys"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("action", choices=("list", "trust", "revoke", "import"))
    p.add_argument("value", nargs="?", metavar="FPR|FILE")
    p.add_argument("--label", default="", help=tr("package.help.label"))
    p.add_argument("--role", default=None, choices=KEY_ROLES, help=tr("package.help.role"))
    p.add_argument("--by", default=None, help=tr("package.help.by"))
    p.set_defaults(func=_keys)

    p = sub.add_parser("conflicts", help=tr("package.help.conflicts"))
    p.add_argument("hq", metavar="HQ.db")
    p.add_argument("--station", metavar="CODE")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--choose", metavar="PROTOCOL_ID")
    group.add_argument("--disputed", action="store_true")
    p.add_argument("--reason", default="")
    p.add_argument("--by", default=None, help=tr("package.help.by"))
    p.set_defaults(func=_conflicts)


def _who(value: str | None) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


class _ProgressLine:
    """One line on stderr, rewritten in place."""

    def __init__(self) -> None:
        self.width = 0

    def __call__(self, done: int, total: int, name: str) -> None:
        line = tr("package.cli.progress", done=done, total=total, name=terminal(name))[:100]
        sys.stderr.write("\r" + line.ljust(self.width))
        sys.stderr.flush()
        self.width = max(self.width, len(line))

    def finish(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _merge(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    org_key = load_org_private(args.org_key) if args.org_key else None  # a bad key file stops before the HQ is touched
    hq = open_hq(args.hq, template=args.template)
    # A line rewritten in place is for a person watching; a log or a pipe gets none.
    line = _ProgressLine() if says_text(args) and is_terminal(sys.stderr) else None
    try:
        report = merge_packages(
            hq,
            paths,
            progress=line,
            trust_new_keys=True if args.trust_new_keys else None,
            org_key=org_key,
            committed=_print_committed if args.print_committed else None,
            read_ahead=True,  # main.py keeps its work under the __main__ guard the helper needs
        )
    finally:
        if line is not None:
            line.finish()
        hq.close()
    counts = report.counts()
    if args.summary_format == "json":
        print_json({**counts, "packages": [_outcome_json(e) for e in report.entries]})
    elif not args.quiet:
        _print_merge_text(report)
    if not report.entries:
        print(tr("package.cli.no_packages"), file=sys.stderr)
        return 2
    if counts[REFUSED] == len(report.entries):
        print(tr("package.cli.none_read"), file=sys.stderr)
        return 2
    return 0


def _print_committed(entries: list[PackageOutcome]) -> None:
    """One JSON line per outcome, once the HQ holds it: what a run killed later still has."""
    for e in entries:
        sys.stderr.write(terminal(json.dumps(_outcome_json(e), ensure_ascii=False)) + "\n")
    sys.stderr.flush()


def _outcome_json(e: PackageOutcome) -> dict[str, Any]:
    return {
        "path": str(e.path),
        "outcome": e.outcome,
        "reason": e.reason,
        "station": e.station_code,
        "kind": e.kind,
        "signer": e.signer,
        "fingerprint": e.fingerprint,
        "sha256": e.sha256,
    }


def _print_merge_text(report: MergeReport) -> None:
    for entry in report.entries:
        if entry.outcome in (REFUSED, HELD):
            print(
                tr(
                    "package.cli.line",
                    outcome=tr(f"package.outcome.{entry.outcome}"),
                    file=terminal(entry.path),
                    reason=terminal(entry.reason),
                )
            )
    n = formatter()
    counts = report.counts()
    print(
        tr(
            "package.cli.summary",
            merged=n.integer(counts[MERGED]),
            duplicate=n.integer(counts[DUPLICATE]),
            held=n.integer(counts[HELD]),
            refused=n.integer(counts[REFUSED]),
        )
    )


def _export_hq(args: argparse.Namespace) -> int:
    hq = open_hq(args.hq)
    try:
        out = export_hq_package(hq, Path(args.outdir))
    finally:
        hq.close()
    print(tr("package.cli.exported", file=terminal(out)))
    return 0


def _keys(args: argparse.Namespace) -> int:
    hq = open_hq(args.hq)
    try:
        if args.action == "list":
            keys = list_keys(hq)
            if not keys:
                print(tr("package.cli.no_keys"))
            for k in keys:
                print(
                    tr(
                        "package.cli.key_row",
                        fingerprint=terminal(k.fingerprint),
                        status=tr(f"package.status.{k.status}"),
                        role=tr(f"package.role.{k.role}"),
                        label=terminal(k.label),
                        decided_by=terminal(k.decided_by),
                    )
                )
            return 0
        if not args.value:
            raise PackageError("package.key.unknown", fingerprint="")
        who = _who(args.by)
        if args.action == "trust":
            info = trust_key(hq, args.value, args.label, who, role=args.role)
            released = release_held(hq, info.fingerprint)
            print(
                tr(
                    "package.cli.key_trusted",
                    fingerprint=terminal(info.fingerprint),
                    role=tr(f"package.role.{info.role}"),
                    released=released.counts()[MERGED],
                )
            )
        elif args.action == "revoke":
            info = revoke_key(hq, args.value, who)
            print(tr("package.cli.key_revoked", fingerprint=terminal(info.fingerprint)))
        else:
            imported = import_keys(hq, Path(args.value), who, role=args.role)
            merged = sum(release_held(hq, k.fingerprint).counts()[MERGED] for k in imported)
            print(tr("package.cli.keys_imported", count=len(imported), released=merged))
        return 0
    finally:
        hq.close()


def _conflicts(args: argparse.Namespace) -> int:
    hq = open_hq(args.hq)
    try:
        if args.station and (args.choose or args.disputed):
            station = hq.station_by_code(args.station)
            if station is None:
                raise PackageError("package.cli.unknown_station", code=args.station)
            if not args.reason.strip():
                raise PackageError("package.cli.need_reason")
            status: Literal["chosen", "disputed"] = "disputed" if args.disputed else "chosen"
            resolve_station(
                hq, station.id, protocol_id=args.choose, status=status, reason=args.reason, decided_by=_who(args.by)
            )
            print(tr("package.cli.resolved", code=terminal(station.code), status=status))
            return 0
        conflicts = station_conflicts(hq)
        if args.station:
            conflicts = [c for c in conflicts if c.station_code == args.station.strip()]
        if not conflicts:
            print(tr("package.cli.no_conflicts"))
        for c in conflicts:
            print(
                tr(
                    "package.cli.conflict_station",
                    code=terminal(c.station_code),
                    count=len(c.versions),
                    keys=terminal(", ".join(c.differing_keys)),
                )
            )
            for v in c.versions:
                values = terminal(", ".join(f"{k}={v.values.get(k, '')}" for k in c.differing_keys))
                print(
                    tr(
                        "package.cli.conflict_version",
                        protocol=terminal(v.protocol_id),
                        observer=terminal(v.observer_name),
                        source=terminal(v.source),
                        file=terminal(v.package_file),
                        values=values,
                    )
                )
            for r in resolution_history(hq, c.station_id):
                print(
                    tr(
                        "package.cli.conflict_decision",
                        status=terminal(r.status),
                        by=terminal(r.decided_by),
                        at=r.decided_at.isoformat(timespec="seconds"),
                        reason=terminal(r.reason),
                    )
                )
        _print_reviews(hq, args.station.strip() if args.station else None)
        eff = effective_protocols(hq)
        print(tr("package.cli.rules", rules=terminal(load_rules(hq).describe())))
        print(
            tr(
                "package.cli.counted",
                counted=len(eff.by_station),
                disputed=len(eff.disputed),
                unresolved=len(eff.unresolved),
                excluded=len(eff.excluded),
            )
        )
        return 0
    finally:
        hq.close()


def _print_reviews(hq: ElectionStore, station_code: str | None) -> None:
    """Merged packages an observer exported with open items, with the reason they typed."""
    reviewed = open_reviews(hq, station_code)
    if reviewed:
        print(tr("review.coord.heading"))
    for pkg in reviewed:
        review = pkg.review
        print(
            tr(
                "review.coord.line",
                code=terminal(pkg.station_code),
                observer=terminal(pkg.signer_name),
                file=terminal(pkg.file_name),
                reason=terminal(review.reason),
                count=len(review.items),
                at=terminal(review.reviewed_at),
            )
        )
        for item in review.items:
            print(tr("review.coord.item", text=terminal(item.text)))
