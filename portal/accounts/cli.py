"""``portal users``: create staff and admin accounts, and list accounts, from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from portal.accounts.models import Role
from portal.accounts.services import AccountError, create_user, list_users
from portal.extensions import db


@click.group(cls=AppGroup)
def users() -> None:
    """Manage user accounts."""


def _create(email: str, password: str, full_name: str, role: Role) -> None:
    try:
        # Whoever runs the CLI vouches for the address, so no confirmation mail is needed.
        user = create_user(email, password, role, full_name=full_name, email_confirmed=True)
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


@users.command("list")
@with_appcontext
def list_command() -> None:
    """List every account: email, role, organization and whether the email is confirmed."""
    accounts = list_users()
    if not accounts:
        click.echo("no accounts yet")
        return
    for user in accounts:
        organization = user.organization.name if user.organization else "-"
        confirmed = "confirmed" if user.email_confirmed_at else "unconfirmed"
        inactive = "" if user.active else "\tinactive"
        click.echo(f"{user.email}\t{user.role}\t{organization}\t{confirmed}{inactive}")
