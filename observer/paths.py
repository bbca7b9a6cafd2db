"""Where Baqylau keeps per-installation files (keys, settings, recent files)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_home() -> Path:
    """The per-user data folder; ``BAQYLAU_HOME`` overrides it (tests, portable USB installs)."""
    override = os.environ.get("BAQYLAU_HOME")
    if override:
        home = Path(override)
    elif sys.platform == "win32":
        home = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Baqylau"
    elif sys.platform == "darwin":
        home = Path.home() / "Library" / "Application Support" / "Baqylau"
    else:
        home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "baqylau"
    home.mkdir(parents=True, exist_ok=True)
    return home
