"""SIGKILL at batch boundaries: the merge committing after every package, killed at random moments.

tests/test_merge_kill.py merges a dozen packages in well under one batch, so its
kills land before the only commit or after it. Here the child commits after
every package (``_BATCH_SECONDS = 0``): evidence flushed and renamed into place,
then the commit, over and over, and kills land between and inside those steps.
The same checks follow: whole packages only, every cited evidence file present,
and merging again gives exactly the content of an uninterrupted merge.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from db.merge import merge_packages
from db.store import ElectionStore
from observer.template import builtin_template
from tests.test_merge_kill import KILLS, PACKAGES, _check_whole_packages, _content, packages  # noqa: F401  (fixture)
from tests.test_merge_kill import _run as run_merge

CHILD = "import sys, main, db.merge; db.merge._BATCH_SECONDS = 0.0; sys.exit(main.main(sys.argv[1:]))"

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _run(hq: Path, folder: Path) -> subprocess.Popen[bytes]:
    return run_merge(hq, folder, CHILD)


@pytest.mark.slow
def test_kill_between_batch_commits_leaves_whole_packages(packages: tuple[Path, dict[str, dict[str, int]]], tmp_path: Path) -> None:  # noqa: F811
    folder, expected = packages
    template = builtin_template("kz-majilis-2021")
    reference = tmp_path / "reference" / "hq.baqylau"
    ElectionStore.create(reference, template, role="hq").close()
    child = _run(reference, folder)
    started = time.monotonic()
    assert child.wait(timeout=300) == 0
    duration = time.monotonic() - started
    assert child.stderr is not None
    child.stderr.close()
    want = _content(reference)

    rnd = random.Random(int(os.environ.get("BAQYLAU_KILL_SEED", "2")))
    some = 0
    for round_no in range(KILLS):
        hq = tmp_path / f"round{round_no}" / "hq.baqylau"
        ElectionStore.create(hq, template, role="hq").close()
        child = _run(hq, folder)
        time.sleep(rnd.uniform(0.0, duration))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert child.stderr is not None
        child.stderr.close()
        present, _ = _check_whole_packages(hq, expected)
        some += 0 < present < PACKAGES
        store = ElectionStore.open(hq)
        try:
            report = merge_packages(store, [folder], trust_new_keys=True)
        finally:
            store.close()
        assert report.counts()["refused"] == 0
        assert report.counts()["merged"] == PACKAGES - present
        assert _content(hq) == want
    print(f"\nbatch-boundary kills: {KILLS}, with some but not all packages committed: {some}")
