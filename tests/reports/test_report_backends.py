"""`report` and `verify-report` on a PostgreSQL HQ: the same data fingerprint and the same PDF as
from the file it was copied from (issue 16), photos included or shown missing alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from db import models as m
from db.demo import demo_hq
from db.hq_copy import copy_hq
from db.store import ElectionStore
from main import main
from reports.fingerprint import data_fingerprint

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_hq(tmp_path_factory.mktemp("demo"), stations=150, seed=3)


def _fingerprint(where: str | Path) -> str:
    store = ElectionStore.open(where)
    try:
        return data_fingerprint(store)
    finally:
        store.close()


def _report(where: str | Path, out: Path) -> bytes:
    assert main(["--lang", "en", "report", str(where), "--out", str(out), "--lang", "kk"]) == 0
    return out.read_bytes()


def _images(pdf: Path) -> int:
    return sum(len(page.images) for page in PdfReader(str(pdf)).pages)


def test_the_report_from_the_server_is_the_report_from_the_file(
    demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_hq(demo, pg_url)
    assert _fingerprint(demo) == _fingerprint(pg_url)
    from_file = _report(demo, tmp_path / "file.pdf")
    from_server = _report(pg_url, tmp_path / "server.pdf")
    # The PDF's date is the data's own time (reports.build), so even the bytes agree.
    assert from_file == from_server
    assert _images(tmp_path / "server.pdf") > 0  # the serious cases' photos (thumbnails kept in the database)
    capsys.readouterr()
    for pdf, hq in (("server.pdf", pg_url), ("file.pdf", pg_url), ("server.pdf", str(demo))):
        assert main(["--lang", "en", "verify-report", str(tmp_path / pdf), hq]) == 0
        assert "Match" in capsys.readouterr().out
    # A decision on the server changes what the report shows: the old report no longer verifies.
    assert main(["--lang", "en", "conflicts", pg_url]) == 0
    listed = capsys.readouterr().out
    code = listed.split("Station ", 1)[1].split(":", 1)[0]
    assert main(["conflicts", pg_url, "--station", code, "--disputed", "--reason", "x", "--by", "HQ"]) == 0
    assert main(["--lang", "en", "verify-report", str(tmp_path / "server.pdf"), pg_url]) == 1


@pytest.mark.parametrize("files", [True, False], ids=["files-kept", "files-gone"])
def test_photos_without_a_thumbnail_are_made_or_missing_alike_on_both(
    files: bool, demo: Path, pg_url: str, tmp_path: Path
) -> None:
    """Older records without a thumbnail are made one from the photo file: from the folder beside a
    file HQ, from the database on PostgreSQL (ElectionStore.evidence_path); a photo whose file never
    arrived is left out of both."""
    file_copy = tmp_path / "hq.baqylau"
    copy_hq(demo, file_copy)
    if not files:
        shutil.rmtree(file_copy.with_name(file_copy.name + ".evidence"))
    copy_hq(file_copy, pg_url)
    for where in (file_copy, pg_url):
        store = ElectionStore.open(where)
        with store.engine.begin() as conn:
            conn.execute(update(m.Evidence).values(thumbnail=None))
        store.close()
    from_file = _report(file_copy, tmp_path / "file.pdf")
    assert _report(pg_url, tmp_path / "server.pdf") == from_file
    assert (_images(tmp_path / "server.pdf") > 0) == files
