"""Who may do what: decorators for views and plain checks for services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from portal.accounts.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role) -> Callable[[F], F]:
    """Log in first, then 403 unless the user has one of ``roles``."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


staff_required = role_required(Role.STAFF, Role.ADMIN)
admin_required = role_required(Role.ADMIN)
member_required = role_required(Role.VENDOR, Role.BUYER)


def is_member_of(user: User | Any, organization_id: int | None) -> bool:
    """True when ``user`` is a logged-in member of that organization."""
    return (
        organization_id is not None
        and getattr(user, "is_authenticated", False)
        and user.organization_id == organization_id
    )


def can_manage_organization(user: User | Any, organization_id: int) -> bool:
    """Members edit their own organization; staff may edit any."""
    return is_member_of(user, organization_id) or bool(getattr(user, "is_staff", False))
