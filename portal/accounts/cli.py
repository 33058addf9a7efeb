"""``portal users``: create staff and admin accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from portal.accounts.models import Role
from portal.accounts.services import AccountError, create_user
from portal.extensions import db


@click.group(cls=AppGroup)
def users() -> None:
    """Manage user accounts."""


def _create(email: str, password: str, full_name: str, role: Role) -> None:
    try:
        user = create_user(email, password, role, full_name=full_name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {role} account {user.email}")


_password_option = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)


@users.command("create-staff")
@click.argument("email")
@_password_option
@click.option("--name", "full_name", default="", help="The person's full name.")
def create_staff(email: str, password: str, full_name: str) -> None:
    """Create a trade staff account, who verifies organizations and brokers introductions."""
    _create(email, password, full_name, Role.STAFF)


@users.command("create-admin")
@click.argument("email")
@_password_option
@click.option("--name", "full_name", default="", help="The person's full name.")
def create_admin(email: str, password: str, full_name: str) -> None:
    """Create an admin account, with every staff power."""
    _create(email, password, full_name, Role.ADMIN)
