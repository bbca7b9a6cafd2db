"""Screenshots of the coordinator window on a shared HQ in PostgreSQL, for docs/screenshots/.

    Xvfb :97 -screen 0 1366x768x24 &
    DISPLAY=:97 python3 tools/coordinator_pg_screenshots.py COORDINATOR_URL ANALYST_URL [--out docs/screenshots]

Opens the window as ``baqylau URL`` does (the table's own reader first, the store
behind it) and saves the stations tab as a coordinator sees it
(``coordinator-postgresql-en.png``), then as an analyst whose role may only read,
with the read-only banner and the write actions disabled, in Russian and Kazakh
(``coordinator-postgresql-read-only-{ru,kk}.png``). The database is only read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coordinator_screenshots import _save, _settle, _wait  # noqa: E402  (beside this script)

from db.services.hq import StoreOpener, current_hq_reader  # noqa: E402
from observer import i18n  # noqa: E402
from ui.app import make_application  # noqa: E402
from ui.coordinator.window import CoordinatorWindow  # noqa: E402
from ui.qt import QApplication  # noqa: E402


def _shot(app: QApplication, url: str, out: Path, name: str) -> None:
    reader = current_hq_reader(url)
    if reader is None:
        raise SystemExit(f"{url}: not a current HQ (open it once with `baqylau` to see why)")
    opener = StoreOpener(url)
    window = CoordinatorWindow.opening(opener, reader)
    window.resize(1366, 768)
    window.show()
    opener.start()
    window.show_tab("stations")
    source = window.stations.model.source
    _wait(app, lambda: opener.future.done() and source.effective_ready())
    _settle(app)
    _save(window, out, name)
    window.close()
    opener.result().close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 tools/coordinator_pg_screenshots.py")
    parser.add_argument("coordinator_url")
    parser.add_argument("analyst_url")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    i18n.set_language("en")
    app = make_application()
    args.out.mkdir(parents=True, exist_ok=True)
    _shot(app, args.coordinator_url, args.out, "postgresql-en")
    for lang in ("ru", "kk"):
        i18n.set_language(lang)
        _shot(app, args.analyst_url, args.out, f"postgresql-read-only-{lang}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
