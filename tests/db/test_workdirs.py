"""The merge's work folders: a crashed run's are removed, a running merge's never (db/workdirs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.workdirs import WORK_PREFIX, drop_work_dir, make_work_dir, remove_stale_work_dirs

posix_only = pytest.mark.skipif(os.name != "posix", reason="folder locks are POSIX flock")


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_dead_runs_folder_is_removed_and_this_runs_own_is_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"{WORK_PREFIX}999999999-abc"
    (dead / "x").mkdir(parents=True)
    mine = make_work_dir(tmp_path)
    (mine / "staged.jpg").write_bytes(b"in use")
    other = tmp_path / "photos"  # not ours: never looked at
    other.mkdir()
    try:
        assert remove_stale_work_dirs(tmp_path) == [dead]
        assert mine.is_dir() and (mine / "staged.jpg").exists() and other.is_dir()
    finally:
        drop_work_dir(mine)
    assert not mine.exists()


def test_a_folder_with_our_process_id_but_not_ours_is_a_crashed_run_with_a_reused_id(tmp_path: Path) -> None:
    leftover = tmp_path / f"{WORK_PREFIX}{os.getpid()}-old"
    leftover.mkdir()
    assert remove_stale_work_dirs(tmp_path) == [leftover]


@posix_only
def test_another_process_running_a_merge_keeps_its_folder_even_when_old(tmp_path: Path) -> None:
    # A second program holding a work folder, as a command-line merge does while it runs.
    code = (
        "import sys; from pathlib import Path; from db.workdirs import make_work_dir; "
        f"p = make_work_dir(Path({str(tmp_path)!r})); print(p, flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert proc.stdout is not None
        theirs = Path(proc.stdout.readline().strip())
        _age(theirs, 3600)  # past the grace period: only its lock protects it now
        assert remove_stale_work_dirs(tmp_path) == []
        assert theirs.is_dir()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
    assert remove_stale_work_dirs(tmp_path) == [theirs]  # its process is gone


@posix_only
def test_a_live_process_id_without_the_lock_is_a_reused_id(tmp_path: Path) -> None:
    # The parent of this test runs but holds no lock on it: the crashed merge's id was reused.
    reused = tmp_path / f"{WORK_PREFIX}{os.getppid()}-xyz"
    reused.mkdir()
    young = tmp_path / f"{WORK_PREFIX}{os.getppid()}-new"
    young.mkdir()  # could be a merge between making its folder and locking it: kept for now
    _age(reused, 3600)
    assert remove_stale_work_dirs(tmp_path) == [reused]
    assert young.is_dir()
