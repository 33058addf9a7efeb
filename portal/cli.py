"""The ``portal`` command: Flask's own commands plus one click group per topic.

Each feature keeps its commands in its own ``cli.py``; this module only names them. The
table below lets ``portal --help`` answer without importing any feature or building the
app (that took seconds: most of it imports the help does not need); a command's module is
imported when that command runs or shows its own help. ``create_app`` still adds every
command to ``app.cli``, for ``flask --app wsgi`` and the tests' CLI runner.

A command that fails because the database cannot be reached, or because its schema is
missing or behind the code, ends with one line saying so and what to do, instead of a
traceback (``database_problem``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NamedTuple

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo


class LazyCommand(NamedTuple):
    module: str
    attribute: str
    help: str  # what `portal --help` shows; tests/test_cli.py checks it is the command's own


COMMANDS: dict[str, LazyCommand] = {
    "db": LazyCommand("portal.migrating_cli", "db", "Perform database migrations."),
    "demo": LazyCommand(
        "portal.exchange.cli",
        "demo_command",
        "Load the demo organizations and needs and create demo logins (NOT for production).",
    ),
    "events": LazyCommand(
        "portal.missions.cli",
        "events",
        "Trade-mission events: list, show, schedule meetings, publish agendas.",
    ),
    "export": LazyCommand(
        "portal.exchange.cli",
        "export_command",
        "Export every organization, need and event to FILE in the exchange format.",
    ),
    "follows": LazyCommand(
        "portal.follows.cli",
        "follows",
        "Followed needs and saved searches: reminders, alerts, a member's searches.",
    ),
    "import": LazyCommand(
        "portal.exchange.cli",
        "import_command",
        "Import organizations, needs and events from FILE (smartcity-matchmaking/1 JSON Lines).",
    ),
    "index": LazyCommand(
        "portal.search.cli", "index", "Keep the Whoosh search index in step with the database."
    ),
    "introductions": LazyCommand(
        "portal.introductions.cli",
        "introductions",
        "Introductions: expire, remind, ask for outcomes; export the audit trail.",
    ),
    "leads": LazyCommand(
        "portal.matching.cli", "leads", "Suggest vendors for needs and needs for vendors."
    ),
    "mail": LazyCommand("portal.mail.cli", "mail", "Inspect and deliver the mail outbox."),
    "needs": LazyCommand(
        "portal.needs.cli",
        "needs",
        "Needs: detect the language of needs saved before it was stored.",
    ),
    "notices": LazyCommand(
        "portal.notices.cli",
        "notices",
        "Notice documents: delete files no document needs; list documents missing a file.",
    ),
    "users": LazyCommand("portal.accounts.cli", "users", "Manage user accounts."),
    "webhooks": LazyCommand(
        "portal.webhooks.cli",
        "webhooks",
        "Webhooks: send due deliveries now; count what waits and what failed.",
    ),
    "worker": LazyCommand(
        "portal.worker",
        "worker",
        "Apply index events, queue digests and lead alerts, deliver mail, until stopped.",
    ),
}


def load_command(name: str) -> click.Command:
    spec = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(spec.module), spec.attribute)
    return command


def register_commands(app: Flask) -> None:
    """Add every command to ``app.cli`` (``flask --app wsgi ...`` and test runners)."""
    for name in COMMANDS:
        app.cli.add_command(load_command(name), name)


class PortalGroup(FlaskGroup):
    """Flask's command group, with the portal's commands loaded only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Flask's own (run, shell, routes) are defined already; no app is built to list.
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            return load_command(name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS:
                rows.append((name, _shorten(COMMANDS[name].help, limit)))
            elif (command := self.commands.get(name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            problem = database_problem(exc, ctx.ensure_object(ScriptInfo))
            if problem is None:
                raise
            raise click.ClickException(problem) from None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)].rstrip() + "..."


def database_problem(exc: BaseException, info: ScriptInfo) -> str | None:
    """One line for an error whose cause is the database's settings or schema, else None.

    The cause is found by asking, not by reading the error: can a new connection answer
    ``SELECT 1``, and is the schema at the migrations' head?
    """
    if "sqlalchemy" not in sys.modules:  # no database was touched
        return None
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return f"PORTAL_DATABASE_URL is not a database URL the portal can use ({exc})"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    from portal.dbcheck import diagnose

    try:
        app = info.load_app()
    except Exception:  # the app itself cannot be built: let the original error show
        return None
    with app.app_context():
        return diagnose()


def _create_app() -> Flask:
    from portal import create_app

    return create_app(commands=False)  # PortalGroup loads the one command it runs


@click.group(cls=PortalGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Manage the smart-city matchmaking portal."""
