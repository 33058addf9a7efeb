"""Rate limits on the pages that guess passwords, send mail or cost the most: per client.

Login, registration (and resending its link) and password reset are limited on POST,
search on GET, and the API (``/api/v1/``) per personal token, or per client address for
a request without one (``PORTAL_RATELIMIT_API``). Counters live in
``PORTAL_RATELIMIT_STORAGE_URL``: ``memory://`` for one process (the embedded default),
``redis://127.0.0.1:6379/N`` when several gunicorn workers or nodes must share them
(with ``memory://`` each worker counts alone, which multiplies every limit by the number
of workers; gunicorn says so when it starts). The client is ``request.remote_addr``,
which ``PORTAL_PROXY_HOPS`` makes the real client's address behind a reverse proxy (see
``portal.security``). Failed logins are also counted per account
(``PORTAL_RATELIMIT_LOGIN_ACCOUNT``), whichever addresses they come from, so that
guessing one account's password from many addresses is slowed too; the key is a hash of
the email as typed, known or not, so a 429 tells nothing about which emails have
accounts. A limit reached gives the portal's 429 page with ``Retry-After``.

Each app gets its own ``Limiter``: Flask-Limiter keeps its storage on the instance, so a
module-level one would be shared (and reconfigured) by every app a process creates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# endpoint -> (setting holding its limits, methods counted)
LIMITED_ENDPOINTS: dict[str, tuple[str, list[str]]] = {
    "accounts.login": ("PORTAL_RATELIMIT_LOGIN", ["POST"]),
    "accounts.register": ("PORTAL_RATELIMIT_REGISTER", ["POST"]),
    "accounts.resend_confirmation": ("PORTAL_RATELIMIT_REGISTER", ["POST"]),
    "accounts.reset_request": ("PORTAL_RATELIMIT_RESET", ["POST"]),
    "accounts.reset_password": ("PORTAL_RATELIMIT_RESET", ["POST"]),
    "search.search_page": ("PORTAL_RATELIMIT_SEARCH", ["GET"]),
}


def _login_account() -> str:
    """The account a login names: a hash of the email as a login normalises it."""
    email = (request.form.get("email") or "").strip().lower()
    return "account-" + hashlib.sha256(email.encode()).hexdigest()


def _failed_login(response: Response) -> bool:
    """A login that did not log in (a success redirects)."""
    return response.status_code != 302


def _setting(name: str) -> Callable[[], str]:
    """Read the limit at each request, so that it follows the app's config."""
    return lambda: current_app.config[name]


def register_rate_limits(app: Flask) -> Limiter | None:
    """Wrap the limited views of ``app`` (call after its blueprints are registered)."""
    if not app.config.get("PORTAL_RATELIMIT_ENABLED", True):
        return None
    limiter = Limiter(
        get_remote_address,
        storage_uri=app.config["PORTAL_RATELIMIT_STORAGE_URL"],
        key_prefix=app.config.get("PORTAL_RATELIMIT_KEY_PREFIX", "portal"),
        headers_enabled=True,  # X-RateLimit-* and Retry-After
        strategy="fixed-window",
        # If the storage (Redis) is down, log it and let requests through rather than
        # answer every login with a 500: the limits are a brake, not the lock.
        swallow_errors=True,
    )
    limiter.init_app(app)
    for endpoint, (setting, methods) in LIMITED_ENDPOINTS.items():
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(_setting(setting), methods=methods)(view)
    app.view_functions["accounts.login"] = limiter.limit(
        _setting("PORTAL_RATELIMIT_LOGIN_ACCOUNT"),
        key_func=_login_account,
        methods=["POST"],
        deduct_when=_failed_login,
        scope="login-account",
    )(app.view_functions["accounts.login"])
    if "api" in app.blueprints:
        # The API: per token whichever address it comes from, else per client address;
        # one count over all its routes (shared), not one per route.
        from portal.api.tokens import rate_limit_key

        limiter.shared_limit(
            _setting("PORTAL_RATELIMIT_API"), scope="api", key_func=rate_limit_key
        )(app.blueprints["api"])
    app.extensions["portal_limiter"] = limiter
    return limiter
