"""The merge's helper process (db.package_reader): packages opened ahead of their turn change nothing
but the speed: the same outcomes, reasons and records as a merge that opens each one itself."""

from __future__ import annotations

import multiprocessing
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import pytest

import db.package_reader as reader_module
from db.merge import merge_packages
from db.package_reader import Opened, PackageReader
from observer import i18n
from observer.signing import KeyPair
from tests.db.test_merge import Factory, dump, take_valid_id, valid_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def factory(tmp_path: Path, template_2021: Any) -> Factory:
    return Factory(tmp_path, template_2021)


@pytest.fixture
def mixed(factory: Factory) -> list[Path]:
    """Two good packages, one reusing another observer's record id, a copy of the first right after it,
    a changed copy of the third, and a file that is no package at all."""
    ka, kb, kc = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka)
    a = factory.export(sa, ka)
    sb = factory.station("101", "Ерлан", kb)
    take_valid_id(sb, valid_id(sa))
    b = factory.export(sb, kb)
    c = factory.export(factory.station("102", "Данияр", kc), kc)
    copy = factory.root / "stick2" / a.name
    copy.parent.mkdir()
    shutil.copy(a, copy)
    changed = factory.root / "stick3" / c.name
    changed.parent.mkdir()
    with zipfile.ZipFile(c) as src, zipfile.ZipFile(changed, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, data + b"x" if info.filename.endswith(".jpg") else data)
    garbage = factory.root / "stick3" / "notes.bqpkg"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    for s in (sa, sb):
        s.close()
    return [a, copy, b, changed, c, garbage]


def _helper_ends() -> None:
    """The helper process, told to stop when the merge returned, ends by itself (not killed)."""
    for helper in multiprocessing.active_children():
        assert wait([helper.sentinel], timeout=60) == [helper.sentinel]


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    _eager(monkeypatch)


def _eager(monkeypatch: pytest.MonkeyPatch) -> list[Opened]:
    """Every run with the helper, and every file waited for from it (not read by the merge while it
    starts); gives the list of what the helper answered, filled as the merge takes it."""
    monkeypatch.setattr(reader_module, "MIN_PACKAGES", 1)
    start = PackageReader.__init__

    def ready_at_once(self: PackageReader) -> None:
        start(self)
        self.ready = True

    monkeypatch.setattr(PackageReader, "__init__", ready_at_once)
    answers: list[Opened] = []
    result = reader_module._result

    def spy(opening: Future[Opened] | None) -> Opened:
        answers.append(result(opening))
        return answers[-1]

    monkeypatch.setattr(reader_module, "_result", spy)
    return answers


Run = tuple[list[tuple[str, str]], dict[str, list[tuple[Any, ...]]]]


def _run(factory: Factory, name: str, files: list[Path]) -> Run:
    """(outcome, reason) of each file, and what the new HQ holds afterwards."""
    hq = factory.hq(name)
    report = merge_packages(hq, files, trust_new_keys=True, read_ahead=True)
    hq.close()
    _helper_ends()
    assert not [p for p in hq.path.parent.iterdir() if p.name.startswith(".baqylau-")]
    return [(e.outcome, e.reason) for e in report.entries], dump(hq.path, ignore_clock=True)


@pytest.fixture
def alone(factory: Factory, mixed: list[Path], monkeypatch: pytest.MonkeyPatch) -> Run:
    """The mixed files merged without a helper; every later run of the test then gets one."""
    monkeypatch.setattr(reader_module, "MIN_PACKAGES", 10**6)
    run = _run(factory, "alone", mixed)
    monkeypatch.setattr(reader_module, "MIN_PACKAGES", 1)
    return run


def test_the_helper_opens_ahead_and_the_merge_ends_as_without_it(
    factory: Factory, mixed: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    i18n.set_language("kk")  # the helper's refusals in the merge's language
    monkeypatch.setattr(reader_module, "MIN_PACKAGES", 10**6)
    alone = _run(factory, "alone", mixed)

    answers = _eager(monkeypatch)
    helped = _run(factory, "helped", mixed)

    assert helped == alone
    outcomes = alone[0]
    assert [o for o, _ in outcomes] == ["merged", "duplicate", "refused", "refused", "merged", "refused"]
    # What the helper process itself did: four packages opened (the copy of the first one too: prepared
    # while the first was being written, then let go as a duplicate), and the changed copy (its photo's
    # hash) and the garbage refused, in Kazakh, with the reasons a merge without it gives.
    opened = sorted(pkg.path.name for pkg, _ in answers if pkg is not None)
    assert opened == sorted(p.name for p in (mixed[0], mixed[1], mixed[2], mixed[4]))
    assert [why for pkg, why in answers if pkg is None] == [outcomes[3][1], outcomes[5][1]]
    assert outcomes[5][1] == i18n.tr("package.error.truncated", "kk", file="notes.bqpkg")


def test_a_helper_that_breaks_costs_only_speed(
    factory: Factory, mixed: list[Path], alone: Run, monkeypatch: pytest.MonkeyPatch
) -> None:

    def died(self: PackageReader, path: Path, work_dir: Path) -> Future[Opened]:
        gone: Future[Opened] = Future()
        gone.set_exception(BrokenProcessPool("the helper was killed"))
        return gone

    monkeypatch.setattr(PackageReader, "submit", died)
    assert _run(factory, "died", mixed) == alone

    def cannot_start() -> ProcessPoolExecutor:
        raise OSError("no new process allowed here")

    monkeypatch.undo()
    monkeypatch.setattr(reader_module, "MIN_PACKAGES", 1)
    monkeypatch.setattr(PackageReader, "_start", staticmethod(cannot_start))
    assert _run(factory, "never", mixed) == alone


def test_a_helper_slow_to_start_never_holds_the_merge_up(
    factory: Factory, mixed: list[Path], alone: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    starting = threading.Event()  # set only once the merge is over: a helper that never gets going
    stuck = ThreadPoolExecutor(max_workers=1)
    stuck.submit(starting.wait)
    monkeypatch.setattr(PackageReader, "_start", staticmethod(lambda: stuck))
    try:
        assert _run(factory, "slow", mixed) == alone  # every file read by the merge itself, none waited for
    finally:
        starting.set()
        stuck.shutdown()


def test_a_helper_that_never_answers_is_ended_with_the_run(
    factory: Factory, mixed: list[Path], alone: Run, monkeypatch: pytest.MonkeyPatch
) -> None:

    def stuck() -> ProcessPoolExecutor:  # a real helper process that never gets past its start
        return ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=time.sleep, initargs=(3600,)
        )

    monkeypatch.setattr(PackageReader, "_start", staticmethod(stuck))
    assert _run(factory, "stuck", mixed) == alone  # _run: and the helper has ended


def test_a_cancelled_run_lets_the_helper_and_what_it_opened_go(
    factory: Factory, mixed: list[Path], eager: None
) -> None:
    hq = factory.hq("hq")
    calls = iter([False, False, True])
    report = merge_packages(hq, mixed, cancel=lambda: next(calls), trust_new_keys=True, read_ahead=True)
    assert report.cancelled and [e.outcome for e in report.entries] == ["merged", "duplicate"]
    _helper_ends()
    assert not [p for p in hq.path.parent.iterdir() if p.name.startswith(".baqylau-")]
    # the rest merges in the next run as it would have
    assert [e.outcome for e in merge_packages(hq, mixed, trust_new_keys=True).entries] == [
        "duplicate",
        "duplicate",
        "refused",
        "refused",
        "merged",
        "refused",
    ]
    hq.close()


HOLDER = r"""
import sys
from pathlib import Path
from db.package_reader import PackageReader
reader = PackageReader()
print(reader.submit(Path(sys.argv[1]), Path(sys.argv[2])).result()[1], flush=True)  # the helper is up
print(next(iter(reader._pool._processes)), flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on a pidfd (Linux)")
def test_the_helper_ends_with_a_killed_merge(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    (tmp_path / "garbage.bqpkg").write_bytes(b"not a package")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "garbage.bqpkg"), str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),  # a killed process's resource tracker warns there
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert "garbage.bqpkg" in line, (tmp_path / "stderr.txt").read_text()  # refused by the helper: it runs
        helper = int(holder.stdout.readline())
        watch = os.pidfd_open(helper)
    finally:
        holder.kill()  # SIGKILL: no goodbye to the helper
        holder.wait(timeout=60)
    try:
        ready, _, _ = select.select([watch], [], [], 60)
        assert ready == [watch]  # the helper process ended by itself
    finally:
        os.close(watch)


def test_until_it_answers_the_helper_gets_one_file_and_big_files_are_read_here(
    factory: Factory, mixed: list[Path], alone: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[tuple[bool, bool]] = []  # (the helper had answered, the file went to it)
    submit = PackageReader.submit

    def spy(self: PackageReader, path: Path, work_dir: Path) -> Future[Opened] | None:
        ready = self.ready
        given.append((ready, (opening := submit(self, path, work_dir)) is not None))
        return opening

    monkeypatch.setattr(PackageReader, "submit", spy)
    assert _run(factory, "starting", mixed) == alone
    before = [went for ready, went in given if not ready]
    assert before[0] and not any(before[1:])  # no backlog of files the merge read meanwhile

    given.clear()
    monkeypatch.setattr(reader_module, "MAX_AHEAD_BYTES", 0)  # every file "big": read by the merge
    assert _run(factory, "big", mixed) == alone
    assert given and not any(went for _, went in given)

    # without read_ahead (a script's call, maybe without the __main__ guard) no helper at all
    monkeypatch.setattr(PackageReader, "__init__", lambda self: pytest.fail("a helper was made"))
    hq = factory.hq("plain")
    assert [e.outcome for e in merge_packages(hq, mixed, trust_new_keys=True).entries] == [o for o, _ in alone[0]]
    hq.close()
