"""The command line: every listed command exists, and opening the app imports no command module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[1]


def test_listed_commands_are_the_registered_ones() -> None:
    parser = main.build_parser()
    registered = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert registered == set(main.COMMANDS)


def test_app_start_path_imports_no_command_module() -> None:
    code = (
        "import sys, main\n"
        "main.build_parser(with_commands=False).parse_args(['gui'])\n"
        "heavy = [m for m in ('reportlab', 'numpy', 'db.cli_merge', 'reports.cli') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_first_word_is_a_file_for_the_app(monkeypatch) -> None:
    opened: list[str | None] = []
    monkeypatch.setattr(main, "_run_gui", lambda args: opened.append(args.file) or 0)
    assert main.main(["--lang", "kk", "station.baqylau"]) == 0
    assert opened == ["station.baqylau"]


def test_error_is_a_message_not_a_traceback(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\n[[lines]]\nkey = "Bad Key"\nen = "a"\n', encoding="utf-8")
    assert main.main(["--lang", "en", "template", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("baqylau: Template bad.toml, line") and "Traceback" not in err


def test_help_is_in_the_language_asked_for(capsys) -> None:
    """--lang applies to the help texts too, which argparse builds before it parses."""
    for lang, words in (("kk", "учаскелер саны"), ("en", "number of polling stations"), ("ru", "число участков")):
        with pytest.raises(SystemExit) as info:
            main.main(["--lang", lang, "demo", "--help"])
        assert info.value.code == 0
        assert words in capsys.readouterr().out
