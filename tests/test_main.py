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


def test_help_and_version_import_no_command_module() -> None:
    """`baqylau --help` lists every command without loading SQLAlchemy, ReportLab, numpy or Qt."""
    code = (
        "import sys, contextlib, io, main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            main.main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    assert out.getvalue(), argv\n"
        "heavy = ('sqlalchemy', 'reportlab', 'numpy', 'PySide6', 'db.store', 'reports.build')\n"
        "print([m for m in heavy if m in sys.modules] + [m for m in sys.modules if m.startswith('db.cli_')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_top_level_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main.main(["--lang", "en", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in main.COMMANDS)
    assert "number of polling stations" not in out  # a command's own options appear only in its help


def test_a_command_imports_only_its_own_module() -> None:
    code = "import sys, main\nmain.build_parser(with_commands='gaps')\nprint(sorted(m for m in sys.modules if m.startswith(('db.cli_', 'reports.cli')) and m != 'db.cli_output'))\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['db.cli_coordinator']"


def test_version_is_the_one_packages_carry(capsys) -> None:
    from db.package_export import APP_VERSION

    with pytest.raises(SystemExit) as info:
        main.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"baqylau {APP_VERSION}"


def test_global_options_are_accepted_after_the_command(tmp_path, capsys) -> None:
    missing = tmp_path / "hq.baqylau"
    assert main.main(["aggregate", str(missing), "--lang", "en"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main.main(["--lang", "en", "aggregate", str(missing), "--lang=kk"]) == 2  # the last one wins
    assert "жоқ" in capsys.readouterr().err
    # after `--` every word is a file name, never an option
    assert main._hoist_global_options(["merge", "hq", "--", "--lang", "x"]) == ["merge", "hq", "--", "--lang", "x"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "kk_KZ.UTF-8"}, "kk"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "kk_KZ.UTF-8"}, "en"),  # POSIX: LC_ALL before LANG
        ({"LANG": "de_DE.UTF-8"}, "ru"),  # not one of ours: the default
        ({"LANG": "C"}, "ru"),
        ({"BAQYLAU_LANG": "kk", "LANG": "en_US.UTF-8"}, "kk"),
        ({}, "ru"),
    ],
)
def test_language_from_option_then_variable_then_locale(environ, expected) -> None:
    assert main.choose_language([], environ) == expected
    assert main.choose_language(["--lang", "en"], environ) == "en"


def test_a_database_url_is_refused_not_taken_for_a_folder(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main.main(["--lang", "en", "org-keygen", "postgresql://hq@localhost/election"]) == 2
    # org-keygen takes no HQ (docs/postgresql.md): refused by name
    assert "'org-keygen' does not work on a PostgreSQL HQ yet" in capsys.readouterr().err
    assert main.main(["--lang", "en", "export-hq", "postgresql://hq@127.0.0.1:9/election", "out"]) == 2
    assert "Could not reach the database postgresql://hq@127.0.0.1:9/election" in capsys.readouterr().err
    assert main.main(["--lang", "en", "aggregate", "mysql://hq@localhost/election"]) == 2
    assert "database URLs are not supported yet" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no folder "postgresql:" was made


def test_report_keeps_its_own_lang_option() -> None:
    """`report ... --lang kk` is the report's language; a `--lang` before the command is the messages'."""
    argv = main._hoist_global_options(["--lang", "en", "report", "hq.baqylau", "--lang", "kk"])
    assert argv == ["--lang", "en", "report", "hq.baqylau", "--lang", "kk"]
    args = main.build_parser(with_commands="report").parse_args([*argv, "--out", "r.pdf"])
    assert (args.lang, args.report_lang) == ("en", "kk")
    assert main.choose_language(argv, {}) == "en"
    assert main.choose_language(["report", "hq.baqylau", "--lang", "kk"], {}) == "kk"


@pytest.mark.parametrize("argv", [["report", "{f}", "--out", "{d}/r.pdf"], ["forensics", "{f}"], ["aggregate", "{f}"]])
def test_a_missing_file_is_no_such_file_and_nothing_is_created(argv: list[str], tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo.baqylau"
    assert main.main(["--lang", "en", *(a.format(f=missing, d=tmp_path) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "not a Baqylau election file" not in err
    assert "No such file" in err or "does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_qt_names_are_resolved_on_first_use_and_pdf_only_when_asked_for() -> None:
    """ui/qt.py resolves a Qt class when a module first imports it (PEP 562), not all ~150 at once."""
    code = (
        "import sys, ui.app, ui.qt\n"
        "later = [m for m in ('PySide6.QtPdf', 'PySide6.QtPdfWidgets', 'PySide6.QtTest') if m in sys.modules]\n"
        "print(later, 'QFileDialog' in vars(ui.qt), 'QApplication' in vars(ui.qt))\n"
        "from ui.qt import QPdfDocument\n"
        "print('PySide6.QtPdf' in sys.modules, QPdfDocument.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[] False True", "True PySide6.QtPdf"]


def test_every_qt_name_the_shim_lists_resolves() -> None:
    """The names mypy checks against (ui/qt.py's TYPE_CHECKING imports) are the names run time finds."""
    import ast

    import ui.qt

    tree = ast.parse((ROOT / "ui" / "qt.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    listed = {(i.module, a.name) for i in block.body if isinstance(i, ast.ImportFrom) for a in i.names}
    assert len(listed) > 100
    for module, name in listed:
        assert getattr(ui.qt, name).__module__.startswith(module or "?"), name  # QtCore's Qt is PySide6.QtCore.Qt
    with pytest.raises(AttributeError):
        ui.qt.QNoSuchWidget  # noqa: B018
    with pytest.raises(AttributeError):
        ui.qt.__wrapped__  # noqa: B018
