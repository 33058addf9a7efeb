"""``portal users``: creating staff and admin accounts, and listing accounts."""

from __future__ import annotations

from typing import Any

import pytest
from account_helpers import count_rows, is_logged_in, log_in

from portal.accounts.models import Role, User
from portal.accounts.services import find_user_by_email

STAFF_PASSWORD = "staff password 123"


@pytest.mark.parametrize(
    ("command", "role"), [("create-staff", Role.STAFF), ("create-admin", Role.ADMIN)]
)
def test_cli_creates_a_confirmed_account_that_can_log_in(
    runner: Any, client: Any, command: str, role: Role
) -> None:
    result = runner.invoke(
        args=[
            "users",
            command,
            "Trade@Agency.example",
            "--password",
            STAFF_PASSWORD,
            "--name",
            "Terry Trade",
        ]
    )

    assert result.exit_code == 0, result.output
    assert f"created {role} account trade@agency.example" in result.output
    user = find_user_by_email("trade@agency.example")
    assert user is not None
    assert user.role == role
    assert user.full_name == "Terry Trade"
    assert user.email_confirmed_at is not None
    assert log_in(client, "trade@agency.example", STAFF_PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_cli_prompts_for_the_password_when_not_given(runner: Any) -> None:
    result = runner.invoke(
        args=["users", "create-staff", "prompted@agency.example"],
        input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert STAFF_PASSWORD not in result.output
    assert find_user_by_email("prompted@agency.example") is not None


def test_cli_refuses_a_duplicate_email(runner: Any, make_member: Any) -> None:
    make_member("taken@agency.example")
    before = count_rows(User)

    result = runner.invoke(
        args=["users", "create-staff", "TAKEN@agency.example", "--password", STAFF_PASSWORD]
    )

    assert result.exit_code != 0
    assert "an account with the email taken@agency.example already exists" in result.output
    assert count_rows(User) == before


def test_cli_refuses_a_short_password(runner: Any) -> None:
    result = runner.invoke(
        args=["users", "create-admin", "a@agency.example", "--password", "short"]
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert find_user_by_email("a@agency.example") is None


def test_cli_lists_accounts_with_role_organization_and_confirmation(
    runner: Any, make_member: Any
) -> None:
    make_member("member@vendor.example", confirmed=False)
    runner.invoke(
        args=["users", "create-staff", "staff@agency.example", "--password", STAFF_PASSWORD]
    )

    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        "staff@agency.example\tstaff\t-\tconfirmed",
        "member@vendor.example\tvendor\tOrg of member@vendor.example\tunconfirmed",
    ]


def test_cli_list_says_when_there_are_no_accounts(runner: Any) -> None:
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    assert result.output.strip() == "no accounts yet"
