"""The merge's private work folders (``.baqylau-incoming-<pid>-*`` beside the HQ file): made, held, cleaned.

A PostgreSQL HQ has no folder beside it (its "path" is a database name): its merges
work in ``<BAQYLAU_HOME>/incoming`` on the machine that runs them (:func:`work_parent`),
cleaned up in the same way.

Standard library only, so the app can clean up at start-up without importing the
store. A folder belongs to a running merge while its owner holds an advisory lock
on it (POSIX ``flock`` on the folder itself); the owner's process id in the name
is the fallback where locks are not available. A folder is removed only when its
owner is certainly gone: the process no longer exists, or (POSIX) it exists but
nobody holds the folder's lock, which happens when a crashed run's process id was
reused by another program.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from observer.paths import app_home

try:
    import fcntl
except ImportError:  # Windows: the process id and the folder's age decide
    fcntl = None  # type: ignore[assignment]

WORK_PREFIX = ".baqylau-incoming-"
_STALE_SECONDS = 24 * 3600  # a folder whose owner cannot be checked: removed when this old
# A folder is locked right after it is made; one this young may be between the two steps.
_GRACE_SECONDS = 60.0
_guard = threading.Lock()  # making + registering one folder vs cleaning in another thread
_live: dict[Path, int] = {}  # this process's folders -> the descriptor holding their lock


def process_alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs (None: cannot tell on this system)."""
    if os.name != "posix":
        return None  # os.kill(pid, 0) would terminate it on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def work_parent(hq_path: Path, on_server: bool) -> Path:
    """Where a merge into ``hq_path`` makes its work folder: beside the HQ file, or (``on_server``:
    a PostgreSQL HQ, whose path is only a database name) in the user's own data folder."""
    if not on_server:
        return hq_path.parent
    folder = app_home() / "incoming"
    folder.mkdir(exist_ok=True)
    return folder


def make_work_dir(folder: Path) -> Path:
    """A new private work folder in ``folder``, held (locked) until :func:`drop_work_dir`."""
    with _guard:
        path = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=folder))
        fd = -1
        if fcntl is not None:
            try:
                fd = os.open(path, os.O_RDONLY)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # the process id in the name still protects it
        _live[path] = fd
    return path


def drop_work_dir(path: Path) -> None:
    """Remove this process's work folder ``path`` and release its lock."""
    with _guard:
        fd = _live.pop(path, -1)
    shutil.rmtree(path, ignore_errors=True)
    if fd >= 0:
        os.close(fd)


def _lock_free(path: Path) -> bool | None:
    """True if nobody holds ``path``'s lock (we could take it), None if it cannot be tried."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return True


def _stale(path: Path) -> bool:
    owner = path.name[len(WORK_PREFIX) :].split("-", 1)[0]
    if owner == str(os.getpid()):
        return path not in _live  # ours: live exactly while a merge of this process uses it
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    alive = process_alive(int(owner)) if owner.isdigit() else None
    if alive is False:
        return True
    if alive is None:
        return age > _STALE_SECONDS
    # A live process with this id: a running merge holds the lock; a reused id does not.
    return age > _GRACE_SECONDS and _lock_free(path) is True


def remove_stale_work_dirs(folder: Path) -> list[Path]:
    """Remove work folders of merges that no longer run (killed, crashed, full disk); return them.

    Their content is only ever uncommitted copies (staged evidence is renamed away
    before the commit that cites it). A folder of a running merge, in this process
    or another, is never touched.
    """
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(WORK_PREFIX) and p.is_dir()]
    except OSError:
        return []
    removed = []
    with _guard:
        for p in candidates:
            if _stale(p):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
