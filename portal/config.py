"""Settings from ``PORTAL_*`` environment variables, with embedded defaults.

A newcomer runs the portal with no environment at all: SQLite under ``instance/``, the
Whoosh index under ``search_index/``, a secret key generated into ``instance/`` on first run
and mail written right after each request as files under ``instance/mail/`` (no SMTP
server needed to confirm an account; set ``PORTAL_MAIL_SERVER`` to send for real).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def secret_key_from(instance_path: Path) -> str:
    """Read the secret key kept in ``instance/secret_key``, writing a new one on first run."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created owner-only so that the key is never readable by other users of the machine.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def load_settings(instance_path: str | Path, *, needs_secret: bool = True) -> dict[str, Any]:
    """Return the Flask config mapping built from the environment."""
    instance_path = Path(instance_path)
    database_url = os.environ.get("PORTAL_DATABASE_URL") or (
        f"sqlite:///{instance_path / 'portal.sqlite'}"
    )
    index_dir = os.environ.get("PORTAL_INDEX_DIR") or str(PROJECT_ROOT / "search_index")
    settings: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "PORTAL_INDEX_DIR": index_dir,
        # Where the sentence-embedding model is prepared (derived from an installed
        # package's weights; safe to delete).
        "PORTAL_MODEL_DIR": os.environ.get("PORTAL_MODEL_DIR") or str(instance_path / "models"),
        # Which needs are ranked in the multilingual space (portal/matching/crosslingual.py):
        # "auto", those not written in English; "all", every need (to fit and measure it).
        "PORTAL_LEADS_MULTILINGUAL": os.environ.get("PORTAL_LEADS_MULTILINGUAL", "auto"),
        "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
        # Mail: "request" delivers right after the request that queued it (embedded
        # default); "worker" leaves delivery to the long-running `portal worker`.
        "PORTAL_MAIL_DELIVERY": os.environ.get("PORTAL_MAIL_DELIVERY", "request"),
        # No SMTP server (the embedded default): mail is written as .eml files to
        # PORTAL_MAIL_DIR instead, where a developer reads the confirmation link.
        "PORTAL_MAIL_SERVER": os.environ.get("PORTAL_MAIL_SERVER", ""),
        "PORTAL_MAIL_DIR": os.environ.get("PORTAL_MAIL_DIR") or str(instance_path / "mail"),
        "PORTAL_MAIL_PORT": _env_int("PORTAL_MAIL_PORT", 25),
        "PORTAL_MAIL_USERNAME": os.environ.get("PORTAL_MAIL_USERNAME", ""),
        "PORTAL_MAIL_PASSWORD": os.environ.get("PORTAL_MAIL_PASSWORD", ""),
        "PORTAL_MAIL_USE_TLS": _env_bool("PORTAL_MAIL_USE_TLS", False),
        "PORTAL_MAIL_SENDER": os.environ.get(
            "PORTAL_MAIL_SENDER", "Smart Cities Matchmaking <noreply@portal.localhost>"
        ),
        "PORTAL_MAIL_TIMEOUT": _env_int("PORTAL_MAIL_TIMEOUT", 10),
        "PORTAL_PASSWORD_RESET_HOURS": _env_int("PORTAL_PASSWORD_RESET_HOURS", 2),
        "PORTAL_PAGE_SIZE": _env_int("PORTAL_PAGE_SIZE", 20),
        # Introductions: an unanswered request expires, with one reminder before it does;
        # months after an introduction both sides are asked once how it went.
        "PORTAL_INTRODUCTION_EXPIRY_DAYS": _env_int("PORTAL_INTRODUCTION_EXPIRY_DAYS", 21),
        "PORTAL_INTRODUCTION_REMINDER_DAYS": _env_int("PORTAL_INTRODUCTION_REMINDER_DAYS", 7),
        "PORTAL_OUTCOME_ASK_AFTER_DAYS": _env_int("PORTAL_OUTCOME_ASK_AFTER_DAYS", 90),
        # The weekly digest goes on this weekday (0 = Monday) at this hour, in each
        # member's own time zone.
        "PORTAL_DIGEST_WEEKDAY": _env_int("PORTAL_DIGEST_WEEKDAY", 0),
        "PORTAL_DIGEST_HOUR": _env_int("PORTAL_DIGEST_HOUR", 8),
        # Immediate-mode members get new leads in one mail at most this often.
        "PORTAL_LEAD_ALERT_MINUTES": _env_int("PORTAL_LEAD_ALERT_MINUTES", 60),
        # Followers of a need are reminded this many days before it closes; new matches
        # of saved searches go in one mail per member at most this often.
        "PORTAL_FOLLOW_REMINDER_DAYS": _env_int("PORTAL_FOLLOW_REMINDER_DAYS", 3),
        "PORTAL_SAVED_SEARCH_MINUTES": _env_int("PORTAL_SAVED_SEARCH_MINUTES", 10),
        # A login lasts this long at most ("keep me logged in": PORTAL_REMEMBER_DAYS, the
        # remember-me cookie's life too); logout ends it at once (server-side sessions).
        "PORTAL_SESSION_HOURS": _env_int("PORTAL_SESSION_HOURS", 12),
        "PORTAL_REMEMBER_DAYS": _env_int("PORTAL_REMEMBER_DAYS", 30),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("PORTAL_SECURE_COOKIES", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_bool("PORTAL_SECURE_COOKIES", False),
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host: 0 trusts
        # none (direct serving); 1 for one nginx. Too high lets clients forge their address.
        "PORTAL_PROXY_HOPS": _env_int("PORTAL_PROXY_HOPS", 0),
        # Rate limits (Flask-Limiter syntax, several separated by ";"), per client address.
        "PORTAL_RATELIMIT_ENABLED": _env_bool("PORTAL_RATELIMIT_ENABLED", True),
        "PORTAL_RATELIMIT_STORAGE_URL": os.environ.get("PORTAL_RATELIMIT_STORAGE_URL", "memory://"),
        "PORTAL_RATELIMIT_KEY_PREFIX": os.environ.get("PORTAL_RATELIMIT_KEY_PREFIX", "portal"),
        "PORTAL_RATELIMIT_LOGIN": os.environ.get(
            "PORTAL_RATELIMIT_LOGIN", "10 per minute; 100 per hour"
        ),
        # Failed logins per account, from any address (a reset link still logs in).
        "PORTAL_RATELIMIT_LOGIN_ACCOUNT": os.environ.get(
            "PORTAL_RATELIMIT_LOGIN_ACCOUNT", "5 per minute; 30 per hour"
        ),
        "PORTAL_RATELIMIT_REGISTER": os.environ.get(
            "PORTAL_RATELIMIT_REGISTER", "10 per minute; 50 per hour"
        ),
        "PORTAL_RATELIMIT_RESET": os.environ.get(
            "PORTAL_RATELIMIT_RESET", "5 per minute; 30 per hour"
        ),
        "PORTAL_RATELIMIT_SEARCH": os.environ.get("PORTAL_RATELIMIT_SEARCH", "120 per minute"),
        # The API, per personal token (or per address without one).
        "PORTAL_RATELIMIT_API": os.environ.get(
            "PORTAL_RATELIMIT_API", "120 per minute; 5000 per hour"
        ),
        # /healthz fails the index check when index events have waited longer than this
        # (this node's worker is not running).
        "PORTAL_HEALTH_MAX_LAG_SECONDS": _env_int("PORTAL_HEALTH_MAX_LAG_SECONDS", 300),
        # Webhooks (portal/webhooks): each POST's timeout in seconds, endpoints sent to at
        # once, attempts before a delivery is marked failed, and how long a rotated secret
        # keeps signing. Plain http to loopback is for the tests only: leave it off.
        "PORTAL_WEBHOOKS_TIMEOUT": _env_int("PORTAL_WEBHOOKS_TIMEOUT", 5),
        "PORTAL_WEBHOOKS_THREADS": _env_int("PORTAL_WEBHOOKS_THREADS", 4),
        "PORTAL_WEBHOOKS_MAX_ATTEMPTS": _env_int("PORTAL_WEBHOOKS_MAX_ATTEMPTS", 12),
        "PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS": _env_int(
            "PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS", 24
        ),
        "PORTAL_WEBHOOKS_ALLOW_LOOPBACK": _env_bool("PORTAL_WEBHOOKS_ALLOW_LOOPBACK", False),
        # "text" for development; "json" writes one JSON object a line, for log shippers.
        "PORTAL_LOG_FORMAT": os.environ.get("PORTAL_LOG_FORMAT", "text"),
        # Notice documents: the largest file accepted, and where files are kept (outside
        # the web root; set it to a persistent volume in production).
        "PORTAL_UPLOAD_MAX_MB": _env_int("PORTAL_UPLOAD_MAX_MB", 20),
        "PORTAL_UPLOAD_DIR": os.environ.get("PORTAL_UPLOAD_DIR") or str(instance_path / "uploads"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    }
    if needs_secret:
        settings["SECRET_KEY"] = os.environ.get("PORTAL_SECRET_KEY") or secret_key_from(
            instance_path
        )
    return settings


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the common way (``postgresql://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
