"""Showing untrusted text (station codes, names, reasons, file names from packages) safely.

QLabel and tool tips guess "rich text" from the content, so a station code
such as ``<b>555</b>`` or an ``<img src=...>`` in an observer's note would be
rendered as markup. Everything the coordinator screens show is plain text.
"""

from __future__ import annotations

from observer.i18n import tr
from ui.qt import QLabel, Qt, QWidget


def plain_labels(widget: QWidget) -> None:
    """Make every QLabel inside ``widget`` (and ``widget`` itself, if a label) plain text."""
    labels = widget.findChildren(QLabel)
    if isinstance(widget, QLabel):
        labels.append(widget)
    for label in labels:
        label.setTextFormat(Qt.TextFormat.PlainText)


def hold_read_only(*widgets: QWidget) -> None:
    """Disable controls that would write the HQ, saying why: the database role may only read.

    Pages call it from their ``set_read_only`` and again wherever they enable these controls
    (a selection, a retranslation), so nothing turns them back on (docs/postgresql.md).
    """
    tip = tr("coordui.read_only.tip")
    for widget in widgets:
        widget.setEnabled(False)
        widget.setToolTip(tip)


def plain_tooltip(text: str) -> str:
    """A tool tip that shows ``text`` literally, line breaks kept."""
    if not text:
        return ""
    import html  # on the first tool tip: with html.entities ~2 ms of the coordinator window's start

    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"
