"""Accounts: password hashing, creating users, and loading them for a session."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from portal.accounts.models import Role, User
from portal.extensions import db

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check a password; re-hash it transparently when Argon2's parameters have changed."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str,
    password: str,
    role: Role,
    full_name: str = "",
    organization_id: int | None = None,
) -> User:
    """Add a user; raises AccountError if the email is taken or the password too short."""
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise AccountError(f"an account with the email {email} already exists")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        email=email,
        full_name=full_name or email.split("@")[0],
        password_hash=hash_password(password),
        role=role,
        organization_id=organization_id,
    )
    db.session.add(user)
    db.session.flush()
    return user


def load_user_for_session(session_id: str) -> User | None:
    """Flask-Login's loader: the id carries the session version, so a changed password
    (which bumps the version) ends every session opened before it."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user
