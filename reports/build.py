"""The observation report as a PDF: ``build_report(hq, out_path, lang, ...)``.

Layout: cover, table of contents, key findings, methodology, turnout, results,
invalid ballots, violations and serious cases, the forensics section (when that
module is installed), then annexes, the per-station table last.

Two things keep a 10,000-station report fast:
- The TOC needs two passes (``multiBuild``). The per-station annex is the last
  thing in the document, so its length cannot move any heading; it is laid out
  only from the second pass on (``Deferred``), and "page X of Y" comes from the
  canvas at save time, not from a previous pass.
- The annex is plain strings in fixed-size cells, split into tables of a few
  hundred rows: no Paragraph per cell, no column measuring, and no re-wrapping
  of all remaining rows at every page break.

The file is written under a temporary name and renamed at the end, so a failed
build never leaves half a PDF under the name the user asked for.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageTemplate,
    Paragraph,
)

from db.store import ElectionStore
from observer.errors import BaqylauError
from observer.i18n import LANGUAGES, tr
from observer.report_signing import load_signing_key, sign_pdf
from reports.data import Snapshot, collect, read_snapshot
from reports.fingerprint import KEYWORD_PREFIX, ReportOptions, data_fingerprint
from reports.flowables import (
    Heading,
    Lazy,
)
from reports.sections.annexes import ANNEX_CHUNK_ROWS, annex_disputed, annex_imports, annex_stations
from reports.sections.base import Context
from reports.sections.cover import cover, toc
from reports.sections.findings import findings
from reports.sections.forensics import forensics
from reports.sections.invalid import invalid
from reports.sections.methodology import methodology
from reports.sections.official import official_only
from reports.sections.results import results
from reports.sections.turnout import turnout
from reports.sections.violations import violations
from reports.styles import (
    DARK,
    FONT,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    INK,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_TOP,
    PAGE_SIZE,
    register_fonts,
)
from reports.tables import running_header

MAX_LOGO_BYTES = 10 * 1024 * 1024
MAX_LOGO_PIXELS = 40_000_000
LOGO_MAX_SIDE = 800  # pixels kept: sharp at 60 mm wide in print, small in the file


class ReportError(BaqylauError):
    """The report cannot be built (bad option, unreadable logo, unwritable output)."""

    key = "report.error.generic"


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    pages: int
    fingerprint: str
    lang: str
    stations_observed: int
    stations_total: int
    seconds: float
    organisation: str = ""  # empty: the cover says the report is a draft, the CLI warns


# ---- page chrome -------------------------------------------------------------


_TOTAL_FORM = "baqylau-total-pages"
_FOOTER_SIZE = 7.5


def _numbered_canvas(lang: str, header_left: Sequence[str], header_right: str, created: str) -> type[Canvas]:
    """A canvas that writes the running header and "page X of Y" on every page but the cover.

    Y is not known until the last page, so each footer draws a reference to a PDF form
    that is defined once, at save time, holding the total. Nothing is kept per page:
    the usual trick of storing every page's state until the end costs hundreds of
    megabytes for the 1,500 pages of a 100,000-station annex.
    """
    template = tr("report.page_of", lang, page="\x00", pages="\x01")
    # The total is a slot of fixed width; it sits after or before the rest of the text.
    total_first = template.index("\x01") < template.index("\x00")
    slot = stringWidth("0" * 5, FONT, _FOOTER_SIZE)
    left_lines, right_lines, head_size = running_header(header_left, header_right, FONT, PAGE_SIZE[0] - 2 * MARGIN_LEFT)

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            # The creation date is the data's time, not the clock (invariant mode would write 2000-01-01).
            self.setDateFormatter(lambda *_: created)

        def showPage(self) -> None:
            if self._pageNumber > 1:  # the cover stays clean
                self._chrome()
            super().showPage()

        def save(self) -> None:
            total = self._pageNumber - 1  # showPage has already moved past the last page
            self.beginForm(_TOTAL_FORM, lowerx=0, lowery=-3, upperx=slot, uppery=_FOOTER_SIZE + 2)
            self.setFont(FONT, _FOOTER_SIZE)
            self.setFillColor(DARK)
            if total_first:
                self.drawRightString(slot, 0, str(total))
            else:
                self.drawString(0, 0, str(total))
            self.endForm()
            super().save()

        def _chrome(self) -> None:
            width, height = PAGE_SIZE
            self.saveState()
            self.setFont(FONT, head_size)
            self.setFillColor(DARK)
            top = height - MARGIN_TOP + 9 * mm
            # Two lines at most, the last on the rule: the header is wrapped, never cut (reports.tables).
            for k, line in enumerate(reversed(left_lines)):
                self.drawString(MARGIN_LEFT, top + k * (head_size + 1.5), line)
            for k, line in enumerate(reversed(right_lines)):
                self.drawRightString(width - MARGIN_LEFT, top + k * (head_size + 1.5), line)
            self.setFont(FONT, _FOOTER_SIZE)
            self.setStrokeColor(INK)
            self.setLineWidth(0.5)
            self.line(MARGIN_LEFT, top - 3, width - MARGIN_LEFT, top - 3)
            before, after = template.replace("\x00", str(self._pageNumber)).split("\x01")
            y = MARGIN_BOTTOM - 10 * mm
            x_end = width - MARGIN_LEFT
            after_w = stringWidth(after, FONT, _FOOTER_SIZE)
            self.drawRightString(x_end, y, after)
            self.drawRightString(x_end - after_w - slot, y, before)
            self.saveState()
            self.translate(x_end - after_w - slot, y)
            self.doForm(_TOTAL_FORM)
            self.restoreState()
            self.restoreState()

    return NumberedCanvas


class ReportDoc(BaseDocTemplate):
    """A4 document whose headings feed the TOC and the PDF outline."""

    def __init__(self, filename: str, **kw: Any) -> None:
        super().__init__(
            filename,
            pagesize=PAGE_SIZE,
            leftMargin=MARGIN_LEFT,
            rightMargin=MARGIN_LEFT,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            **kw,
        )
        frame = Frame(
            MARGIN_LEFT,
            MARGIN_BOTTOM,
            FRAME_WIDTH,
            FRAME_HEIGHT,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate(id="cover", frames=[frame]), PageTemplate(id="body", frames=[frame])])
        self.passes = 0
        self.heading_keys = 0

    def handle_documentBegin(self) -> None:
        self.passes += 1
        self.heading_keys = 0
        super().handle_documentBegin()

    def handle_flowable(self, flowables: list[Flowable]) -> None:
        # A Lazy is made when reached; a Deferred (the annex) not at all on the first
        # pass, whose only purpose is the headings' page numbers: nothing after it has one.
        if flowables and isinstance(flowables[0], Lazy):
            lazy = flowables.pop(0)
            if lazy.first_pass or self.passes > 1:
                flowables[0:0] = lazy.flowables()
            return
        super().handle_flowable(flowables)

    def afterFlowable(self, flowable: Flowable) -> None:
        level: int | None = None
        text = ""
        key = ""
        if isinstance(flowable, Heading):
            level, text, key = flowable.level, flowable.toc_text, flowable.bookmark
        elif isinstance(flowable, Paragraph) and flowable.style.name in ("h1", "h2"):
            # Sections made by other modules with our styles get TOC entries too.
            level, text = (0 if flowable.style.name == "h1" else 1), flowable.getPlainText()
            # A counter, not id(): the names are written into the PDF, which must be the same on every build.
            self.heading_keys += 1
            key = f"h{self.heading_keys}"
        if level is None:
            return
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
        self.notify("TOCEntry", (level, text, self.page, key))


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Compressed streams stored as binary, not also ASCII85-encoded (ReportLab's default).

    ASCII85 only matters for 7-bit channels, which a PDF (binary from its second line
    on) does not go through; it makes every page, font and image stream 25 % larger
    and was ~0.5 s of a 178-page report (pure-Python encoder). ReportLab reads the
    setting when it writes, so it is set for the build and restored after.
    """
    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before


def _remove_quietly(path: Path) -> None:
    """Remove a partial output; on a read-only or vanished folder there is nothing to remove."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _organisation(store: ElectionStore) -> str:
    """The organisation from the HQ file: its setting, else the organisation of the file's own user."""
    setting = store.meta("organisation")
    if setting:
        return setting
    me = store.observer()
    return me.organisation if me else ""


def _logo(path: Path) -> Image:
    """The organisation's logo, decoded and re-encoded by Pillow before ReportLab sees it.

    The file is a user's file like any other: size and pixel limits, a full decode, and
    only the re-encoded, downscaled copy goes into the PDF.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        if path.stat().st_size > MAX_LOGO_BYTES:
            raise ReportError("report.error.logo", file=path.name)
        with PILImage.open(path) as img:
            if img.width * img.height > MAX_LOGO_PIXELS:
                raise ReportError("report.error.logo", file=path.name)
            img.load()
            clean = img.convert("RGBA") if img.mode in ("RGBA", "LA", "P") else img.convert("RGB")
        clean.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
        data = io.BytesIO()
        clean.save(data, "PNG")
    except ReportError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        raise ReportError("report.error.logo", file=path.name) from None
    width, height = clean.size
    scale = min(60 * mm / width, 25 * mm / height)
    data.seek(0)
    logo = Image(data, width=width * scale, height=height * scale)
    logo.hAlign = "LEFT"
    return logo


# ---- entry point -------------------------------------------------------------


def build_report(
    hq: ElectionStore | str | Path,
    out_path: str | Path,
    lang: str,
    title: str | None = None,
    org: str | None = None,
    logo: str | Path | None = None,
    progress: Callable[[str, int], None] | None = None,
    sign_key: str | Path | None = None,
) -> ReportInfo:
    """Build the observation report of an HQ file as a PDF at ``out_path``.

    ``org`` defaults to the HQ file's ``meta.organisation``; ``progress`` gets
    ReportLab's progress events (for a progress bar in the UI). The same HQ data
    and options give the same bytes (docs/report.md): ``verify-report`` rebuilds
    and compares. With ``sign_key`` (the organisation's org-ed25519.pem) the PDF
    is signed (observer.report_signing).
    """
    started = time.perf_counter()
    if lang not in LANGUAGES:
        raise ReportError("report.error.lang", lang=lang, known=", ".join(LANGUAGES))
    logo_path = Path(logo) if logo else None
    if logo_path is not None and not logo_path.is_file():
        raise ReportError("report.error.logo", file=str(logo_path))
    signer = load_signing_key(sign_key) if sign_key else None
    own = not isinstance(hq, ElectionStore)
    store = hq if isinstance(hq, ElectionStore) else ElectionStore.open(hq)
    try:
        ctx, story = report_story(store, lang, title, org, _logo(logo_path) if logo_path else None)
    finally:
        if own:
            store.close()
    target = Path(out_path)
    pages = _write_pdf(ctx, story, target, _sha256(logo_path) if logo_path else "", signer, progress)
    data = ctx.d
    return ReportInfo(
        target,
        pages,
        data.fingerprint,
        lang,
        data.stations_observed,
        data.stations_total,
        time.perf_counter() - started,
        data.organisation,
    )


def report_story(
    store: ElectionStore, lang: str, title: str | None = None, org: str | None = None, logo: Image | None = None
) -> tuple[Context, list[Flowable]]:
    """The report's figures and its flowables in reading order, before any layout.

    What ``build_report`` typesets; benchmarks/bench_report.py also turns it into the
    plain-ReportLab baseline (the same paragraphs and rows, without our typesetting).
    """
    organisation = (org if org is not None else _organisation(store)).strip()
    snapshot = read_snapshot(store)  # one read for both the figures and the fingerprint
    data = collect(store, lang, organisation, snapshot)
    data.fingerprint = data_fingerprint(store, snapshot)
    ctx = Context(data, (title or tr("report.default_title", lang)).strip(), logo)
    return ctx, _story(ctx, store, snapshot)


def _write_pdf(
    ctx: Context,
    story: list[Flowable],
    target: Path,
    logo_sha256: str,
    signer: Ed25519PrivateKey | None,
    progress: Callable[[str, int], None] | None,
) -> int:
    """Typeset ``story`` into ``target`` (through a partial file, signed if asked); the number of pages."""
    data, lang, organisation = ctx.d, ctx.lang, ctx.d.organisation
    options = ReportOptions(lang, ctx.title, organisation, logo_sha256)
    register_fonts()
    tmp = target.with_name(f".{target.name}.part")
    doc = ReportDoc(
        str(tmp),
        title=ctx.title,
        author=organisation or "Baqylau",
        subject=data.election,
        creator="Baqylau",
        keywords=[KEYWORD_PREFIX + data.fingerprint, options.keyword(), data.template.id, lang],
        lang={"ru": "ru-RU", "kk": "kk-KZ", "en": "en"}[lang],
        invariant=1,  # no random document ID, no clock: the same data gives the same file
    )
    if progress is not None:
        doc.setProgressCallBack(lambda kind, value: progress(str(kind), int(value or 0)))
    canvasmaker = _numbered_canvas(
        lang, (f"{ctx.title} — {data.election}", data.election), organisation, _pdf_date(data.data_time)
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _binary_streams():
            doc.multiBuild(story, canvasmaker=canvasmaker)
        if signer is not None:
            tmp.write_bytes(sign_pdf(tmp.read_bytes(), signer))
        pages = doc.page
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise ReportError("report.error.write", file=str(target), problem=exc.strerror or str(exc)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    return pages


def _story(ctx: Context, store: ElectionStore, snapshot: Snapshot) -> list[Flowable]:
    """The sections in reading order (numbered as they are made)."""
    tables = (snapshot.official, snapshot.observed)
    if not ctx.d.has_observations:
        # Official results only: no observation section with "—" and "0 of 95,225".
        return [*cover(ctx), *toc(ctx), *official_only(ctx), *forensics(ctx, store, tables), *annex_imports(ctx)]
    return [
        *cover(ctx),
        *toc(ctx),
        *findings(ctx),
        *methodology(ctx),
        *turnout(ctx),
        *results(ctx),
        *invalid(ctx),
        *violations(ctx),
        *forensics(ctx, store, tables),
        *annex_disputed(ctx),
        *annex_imports(ctx),
        *annex_stations(ctx),
    ]


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise ReportError("report.error.logo", file=path.name) from None


def _pdf_date(t: datetime | None) -> str:
    """The PDF date of the data's time (UTC); without any merged data, the election template's epoch."""
    at = (t if t is not None else datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
    return at.strftime("D:%Y%m%d%H%M%S+00'00'")


__all__ = ["ANNEX_CHUNK_ROWS", "ReportError", "ReportInfo", "build_report", "report_story"]
