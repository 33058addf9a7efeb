"""The ``portal`` command: help without building the app, one clear line for a database
that cannot be reached or was never upgraded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask_migrate import upgrade
from separate_app import separate_app
from support import TEST_DB

from portal.cli import COMMANDS, load_command, main

DEMO = Path(__file__).parent.parent / "portal" / "demo" / "demo.jsonl"


def test_portal_help_imports_no_feature_and_builds_no_app() -> None:
    """Regression: `portal --help` took seconds, importing the whole portal to list it."""
    script = (
        "import sys\n"
        "from portal.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(  # noqa: S603 - a fresh interpreter: this one imported everything
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    listing, _, last_line = done.stdout.strip().rpartition("\n")
    modules = set(last_line.split())
    for name in COMMANDS:
        assert f"  {name} " in listing
    loaded = {m for m in modules if m.startswith("portal.")} - {"portal.cli", "portal.config"}
    assert loaded == set()
    assert not {"sqlalchemy", "numpy", "whoosh", "alembic"} & modules


def test_the_listed_help_is_each_commands_own() -> None:
    for name, spec in COMMANDS.items():
        assert load_command(name).get_short_help_str(limit=200) == spec.help, name


def _invoke(tmp_path: Path, database_url: str, *args: str) -> Any:
    env = {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEY": "cli-test",
        "PORTAL_INDEX_DIR": str(tmp_path / "index"),
        "PORTAL_MODEL_DIR": str(tmp_path / "models"),
        "PORTAL_MAIL_DIR": str(tmp_path / "mail"),
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_import_into_a_database_never_upgraded_says_so_in_one_line(tmp_path: Path) -> None:
    """Regression: an 87-line traceback."""
    result = _invoke(tmp_path, f"sqlite:///{tmp_path / 'new.sqlite'}", "import", str(DEMO))

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert "has no tables yet: run `portal db upgrade` first" in line


def test_a_schema_behind_the_code_says_which_revision_and_what_to_run(
    _app: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with (
        separate_app(_app, tmp_path / "index", SQLALCHEMY_DATABASE_URI=url) as old,
        old.app_context(),
    ):
        upgrade(revision="0006")  # before the edit versions of organizations

    result = _invoke(tmp_path, url, "import", str(DEMO))

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "has schema revision 0006, this code needs" in line
    assert "run `portal db upgrade`" in line


def _unreachable() -> list[str]:
    urls = ["sqlite:///{tmp}/no-such-folder/portal.sqlite"]
    if TEST_DB == "postgresql":  # nothing listens on port 1
        urls.append("postgresql://portal:secret-password@127.0.0.1:1/portal")
    return urls


@pytest.mark.parametrize("url", _unreachable())
def test_wrong_database_settings_give_one_line_not_a_traceback(tmp_path: Path, url: str) -> None:
    result = _invoke(tmp_path, url.format(tmp=tmp_path), "mail", "status")

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: cannot use the database at ")
    assert "Check PORTAL_DATABASE_URL" in line
    assert "secret-password" not in line


def test_a_url_that_is_no_database_url_says_so(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "nosuchdb://somewhere", "users", "list")

    assert result.exit_code == 1
    assert "PORTAL_DATABASE_URL is not a database URL" in result.output
