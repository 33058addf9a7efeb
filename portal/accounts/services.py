"""Accounts: passwords, registration, email confirmation, login, settings and resets.

Every function here adds and flushes but never commits: the view or CLI command that
calls it commits once. Mail is queued in the outbox, so it only leaves after that commit.

Two rules run through this module. No answer may reveal whether an email has an account
(registration, resend and reset behave alike for known and unknown addresses; a failed
login says the same for a wrong email and a wrong password). And a session lives on the
server: every login is a ``LoginSession`` row that the cookies only name by a random
token, checked on every request, so that logging out, changing the password or being
deactivated ends it, whatever cookie someone kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import secrets
import zoneinfo
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.accounts.models import LoginSession, PasswordResetToken, Role, User
from portal.cleaning import one_line
from portal.db import utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext
from portal.i18n.locales import is_shipped
from portal.mail.services import mail_link, queue_mail
from portal.organizations.models import OrganizationKind
from portal.organizations.services import create_organization
from portal.vocab import ASEAN_COUNTRIES

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when no account matches, so that a wrong email costs as much time
    as a wrong password and response times do not tell the two apart. Made on first use:
    hashing at import cost every command a quarter of a second."""
    return _hasher.hash(secrets.token_urlsafe(16))


MIN_PASSWORD_LENGTH = 10

CONFIRM_SALT = "portal.accounts.confirm-email"
CONFIRM_MAX_AGE = dt.timedelta(days=3)

# The zones our members live in: the United States and the ten ASEAN countries.
TIME_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "America/New_York": "United States: Eastern (New York)",
    "America/Chicago": "United States: Central (Chicago)",
    "America/Denver": "United States: Mountain (Denver)",
    "America/Phoenix": "United States: Arizona (Phoenix)",
    "America/Los_Angeles": "United States: Pacific (Los Angeles)",
    "America/Anchorage": "United States: Alaska (Anchorage)",
    "Pacific/Honolulu": "United States: Hawaii (Honolulu)",
    "Asia/Brunei": "Brunei Darussalam (Bandar Seri Begawan)",
    "Asia/Phnom_Penh": "Cambodia (Phnom Penh)",
    "Asia/Jakarta": "Indonesia: Western (Jakarta)",
    "Asia/Makassar": "Indonesia: Central (Makassar, Bali)",
    "Asia/Jayapura": "Indonesia: Eastern (Jayapura)",
    "Asia/Vientiane": "Lao PDR (Vientiane)",
    "Asia/Kuala_Lumpur": "Malaysia (Kuala Lumpur)",
    "Asia/Yangon": "Myanmar (Yangon)",
    "Asia/Manila": "Philippines (Manila)",
    "Asia/Singapore": "Singapore",
    "Asia/Bangkok": "Thailand (Bangkok)",
    "Asia/Ho_Chi_Minh": "Viet Nam (Ho Chi Minh City, Hanoi)",
}


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


class LoginError(AccountError):
    """A login that must not succeed; subclasses say why, views choose what to reveal."""


class InvalidCredentials(LoginError):
    """No account with that email, or a wrong password: deliberately indistinguishable."""


class EmailNotConfirmed(LoginError):
    """The password is right but the owner has not followed the confirmation link yet."""


class AccountInactive(LoginError):
    """The password is right but staff have deactivated the account."""


class WrongCurrentPassword(AccountError):
    """A password change whose 'current password' does not match."""


class InvalidToken(AccountError):
    """A confirmation or reset link that is unknown, expired or already used."""


# --- passwords -----------------------------------------------------------------------


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


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            gettext("the password must have at least %(num)s characters", num=MIN_PASSWORD_LENGTH)
        )


def is_valid_timezone(name: str) -> bool:
    """True for an IANA zone the system knows, e.g. 'Asia/Manila'."""
    if not name or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def set_password(user: User, new_password: str) -> None:
    """Store a new password and end every session opened with the old one."""
    _check_password_rules(new_password)
    user.password_hash = hash_password(new_password)
    user.session_version += 1  # for code of the previous release, during an upgrade
    end_sessions_of(user)


# --- users ---------------------------------------------------------------------------


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str,
    password: str,
    role: Role,
    full_name: str = "",
    organization_id: int | None = None,
    *,
    email_confirmed: bool = False,
    timezone: str = "UTC",
) -> User:
    """Add a user; raises AccountError if the email is taken or the password too short.

    ``email_confirmed`` is for accounts made by someone already trusted (the CLI); members
    who register themselves confirm their address by the mailed link.
    """
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise AccountError(
            gettext("an account with the email %(email)s already exists", email=email)
        )
    _check_password_rules(password)
    if not is_valid_timezone(timezone):
        raise AccountError(gettext("unknown time zone %(zone)s", zone=repr(timezone)))
    user = User(
        email=email,
        full_name=one_line(full_name) or email.split("@")[0],
        password_hash=hash_password(password),
        role=role,
        organization_id=organization_id,
        timezone=timezone,
        email_confirmed_at=utc_now() if email_confirmed else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def list_users() -> list[User]:
    """Every account, staff first, then by email: what `portal users list` prints."""
    role_order = sa.case(
        {Role.ADMIN.value: 0, Role.STAFF.value: 1, Role.BUYER.value: 2, Role.VENDOR.value: 3},
        value=User.role,
        else_=4,
    )
    return list(db.session.scalars(sa.select(User).order_by(role_order, User.email)))


# --- login sessions ------------------------------------------------------------------


def session_lifetime(remember: bool) -> dt.timedelta:
    """How long a login lasts: ``PORTAL_REMEMBER_DAYS`` with 'keep me logged in' (as long
    as its cookie), else ``PORTAL_SESSION_HOURS`` at most, even if the browser stays open."""
    config = current_app.config
    if remember:
        return dt.timedelta(days=int(config["PORTAL_REMEMBER_DAYS"]))
    return dt.timedelta(hours=int(config["PORTAL_SESSION_HOURS"]))


def start_session(user: User, *, remember: bool = False, now: dt.datetime | None = None) -> str:
    """Open a login session for ``user`` and return its token (only the cookies hold it;
    the database keeps its hash). ``user.get_id()`` returns it from now on."""
    now = now or utc_now()
    token = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            user_id=user.id,
            token_hash=_token_hash(token),
            remember=remember,
            created_at=now,
            expires_at=now + session_lifetime(remember),
        )
    )
    db.session.flush()
    user.login_token = token
    return token


def end_session(token: str | None) -> None:
    """End one login session (logout): its cookies, wherever they were copied, stop working."""
    if token:
        db.session.execute(
            sa.update(LoginSession)
            .where(LoginSession.token_hash == _token_hash(token), LoginSession.ended_at.is_(None))
            .values(ended_at=utc_now())
        )


def end_sessions_of(user: User) -> None:
    """End every login session of ``user`` (a password change or reset)."""
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utc_now())
    )


def load_user_for_session(token: str) -> User | None:
    """Flask-Login's loader, on every request: the user of a login session that has not
    ended or expired, if the account is still active; else None (logged out)."""
    if not token or len(token) > 100:
        return None
    found = db.session.execute(
        sa.select(LoginSession.ended_at, LoginSession.expires_at, User)
        .join(User, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        return None
    ended_at, expires_at, user = found
    if ended_at is not None or expires_at <= utc_now() or not user.active:
        return None
    user.login_token = token
    return user


def remove_old_sessions(now: dt.datetime | None = None) -> int:
    """Delete login sessions that ended or expired over a day ago (a worker pass)."""
    cutoff = (now or utc_now()) - dt.timedelta(days=1)
    result = db.session.execute(
        sa.delete(LoginSession).where(
            sa.or_(LoginSession.expires_at < cutoff, LoginSession.ended_at < cutoff)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- registration and email confirmation ---------------------------------------------


def register_member(
    *,
    kind: str,
    full_name: str,
    email: str,
    password: str,
    organization_name: str,
    country: str,
    city: str,
    timezone: str,
) -> User | None:
    """Register a vendor or buyer member with a new, pending organization.

    Returns the new user, or None when the email already has an account: then nothing is
    created and the owner of the address is told by mail instead, so that the caller can
    answer exactly as it does for a new address (no account enumeration).
    """
    if kind == OrganizationKind.VENDOR:
        country, role = "US", Role.VENDOR
    elif kind == OrganizationKind.BUYER:
        if country not in ASEAN_COUNTRIES:
            raise AccountError(gettext("a city member's country must be an ASEAN member state"))
        role = Role.BUYER
    else:
        raise AccountError(gettext("unknown kind of member %(kind)s", kind=repr(kind)))
    if not full_name.strip() or not organization_name.strip():
        raise AccountError(gettext("a full name and an organization name are needed"))
    _check_password_rules(password)
    if not is_valid_timezone(timezone):
        raise AccountError(gettext("unknown time zone %(zone)s", zone=repr(timezone)))

    existing = find_user_by_email(email)
    if existing is not None:
        hash_password(password)  # the same work as a real registration, so the same time
        queue_mail(
            existing.email,
            lazy_gettext("Someone tried to register with your address"),
            "already_registered",
            user=existing,
            login_url=mail_link("accounts.login"),
            reset_url=mail_link("accounts.reset_request"),
        )
        return None

    organization = create_organization(
        OrganizationKind(kind), organization_name, country, city=city
    )
    user = create_user(
        email,
        password,
        role,
        full_name=full_name,
        organization_id=organization.id,
        timezone=timezone,
    )
    send_confirmation_mail(user)
    return user


def confirmation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def make_confirmation_token(user: User) -> str:
    """A signed, timestamped token naming the user and the address being confirmed."""
    return str(confirmation_serializer().dumps({"user_id": user.id, "email": user.email}))


def send_confirmation_mail(user: User) -> None:
    queue_mail(
        user.email,
        lazy_gettext("Confirm your email address"),
        "confirm_email",
        user=user,
        confirm_url=mail_link("accounts.confirm_email", token=make_confirmation_token(user)),
        valid_days=CONFIRM_MAX_AGE.days,
    )


def resend_confirmation(email: str) -> None:
    """Mail a fresh link if that address has an active, unconfirmed account; else nothing."""
    user = find_user_by_email(email)
    if user is not None and user.active and user.email_confirmed_at is None:
        send_confirmation_mail(user)


def confirm_email(token: str) -> User:
    """Mark the address in a valid confirmation token as confirmed; idempotent."""
    try:
        payload: Any = confirmation_serializer().loads(
            token, max_age=int(CONFIRM_MAX_AGE.total_seconds())
        )
    except SignatureExpired as exc:
        raise InvalidToken("this confirmation link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this confirmation link is not valid") from exc
    user_id = payload.get("user_id") if isinstance(payload, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.email != payload.get("email"):
        raise InvalidToken("this confirmation link is not valid")
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utc_now()
        db.session.flush()
    return user


# --- login and settings --------------------------------------------------------------


def sign_in(email: str, password: str) -> User:
    """Check a login and record its time; raises a LoginError subclass when it must fail.

    The password is checked before anything else about the account, so that only someone
    who knows it learns that the account is unconfirmed or inactive.
    """
    user = find_user_by_email(email)
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        raise InvalidCredentials(lazy_gettext("Email or password is incorrect."))
    if not verify_password(user, password):
        raise InvalidCredentials(lazy_gettext("Email or password is incorrect."))
    if not user.active:
        raise AccountInactive(lazy_gettext("This account has been deactivated."))
    if user.email_confirmed_at is None:
        raise EmailNotConfirmed(lazy_gettext("Please confirm your email address first."))
    user.last_login_at = utc_now()
    db.session.flush()
    return user


def update_profile(user: User, *, full_name: str, timezone: str, locale: str | None) -> None:
    """Name, zone and language (None: follow the browser)."""
    if not one_line(full_name):
        raise AccountError(gettext("a full name is needed"))
    if not is_valid_timezone(timezone):
        raise AccountError(gettext("unknown time zone %(zone)s", zone=repr(timezone)))
    user.full_name = one_line(full_name)
    user.timezone = timezone
    set_locale(user, locale)
    db.session.flush()


def set_locale(user: User, locale: str | None) -> None:
    """The member's interface and mail language; None follows the browser."""
    if locale is not None and not is_shipped(locale):
        raise AccountError(gettext("unknown language %(code)s", code=repr(locale)))
    user.locale = locale
    db.session.flush()


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    """Change a password the owner knows; every other session of theirs ends."""
    if not verify_password(user, current_password):
        raise WrongCurrentPassword(lazy_gettext("The current password is not correct."))
    set_password(user, new_password)
    db.session.flush()


# --- password reset ------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_password_reset(user: User, *, now: dt.datetime | None = None) -> str:
    """Store a reset token's hash and return the token itself, which only the mail holds."""
    now = now or utc_now()
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + dt.timedelta(hours=current_app.config["PORTAL_PASSWORD_RESET_HOURS"]),
        )
    )
    db.session.flush()
    return token


def request_password_reset(email: str) -> None:
    """Mail a reset link if that address has an active account; otherwise do nothing."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    token = create_password_reset(user)
    queue_mail(
        user.email,
        lazy_gettext("Reset your password"),
        "reset_password",
        user=user,
        reset_url=mail_link("accounts.reset_password", token=token),
        valid_hours=current_app.config["PORTAL_PASSWORD_RESET_HOURS"],
    )


def find_valid_reset(token: str) -> PasswordResetToken | None:
    """The unused, unexpired reset row for ``token`` whose user is still active, if any."""
    row = db.session.scalar(
        sa.select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= utc_now():
        return None
    if not row.user.active:
        return None
    return row


def reset_password(token: str, new_password: str) -> User:
    """Use a reset link: new password, every outstanding link of the user spent, every
    other session ended, and the address confirmed (following the link proves it)."""
    row = find_valid_reset(token)
    if row is None:
        raise InvalidToken("this link has expired or was already used")
    user = row.user
    _check_password_rules(new_password)
    now = utc_now()
    # Spend this link with a conditional UPDATE, so that of two requests racing with the
    # same link only one succeeds; then spend the user's other outstanding links.
    spent = db.session.execute(
        sa.update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if spent.rowcount != 1:
        raise InvalidToken("this link has expired or was already used")
    db.session.execute(
        sa.update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    set_password(user, new_password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now
    db.session.flush()
    return user
