"""The ``portal`` command: Flask's own commands plus one click group per topic.

Each feature keeps its commands in its own ``cli.py``; this module only gathers them.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from portal.accounts.cli import users
    from portal.exchange.cli import demo_command, export_command, import_command
    from portal.introductions.cli import introductions
    from portal.mail.cli import mail
    from portal.matching.cli import leads
    from portal.search.cli import index
    from portal.worker import worker

    commands = (users, mail, worker, index, leads, introductions)
    commands += (import_command, export_command, demo_command)
    for command in commands:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from portal import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Manage the smart-city matchmaking portal."""
