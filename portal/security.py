"""Security headers on every response, and trusting the reverse proxy's forwarded headers.

The Content-Security-Policy allows scripts, styles and images from this site only (and
``data:`` images): no inline script or style runs, so an injected ``<script>`` or
``onclick=`` does nothing even if some text slipped through unescaped. Templates therefore
carry no inline script, style or event handler (``tests/security`` checks them all).

Pages made for one person are never stored by a browser or a shared cache
(``Cache-Control: no-store``): every page seen logged in (it shows at least the user's
address in the menu), and every page whose session changed (a form's CSRF token, a flash
message), so that the back button on a shared computer or a proxy never shows it to
someone else. Public pages seen anonymously, static files and /healthz keep their own.
"""

from __future__ import annotations

from flask import Flask, Response, g, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Only sent over HTTPS (a browser ignores it over HTTP, and sending it from a development
# server on plain HTTP would only mislead). No includeSubDomains: other hosts of the
# operator's domain are not ours to pin.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def register_security(app: Flask) -> None:
    """Honour ``PORTAL_PROXY_HOPS`` proxies and add the security headers to every response."""
    hops = int(app.config.get("PORTAL_PROXY_HOPS", 0))
    if hops > 0:
        # The client's address (rate limits, logs) and whether it came over HTTPS
        # (HSTS, secure redirects) are read from the headers the proxy sets, and only
        # from as many hops as are ours.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            # setdefault: a view may ask for stricter (the reset page's no-referrer).
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        if "Cache-Control" not in response.headers and is_private_response():
            response.headers["Cache-Control"] = "no-store"
        return response


def is_private_response() -> bool:
    """Whether this response was made for one person: a user was logged in (Flask-Login
    keeps the user it loaded in ``g``; reading it there loads no one for a static file) or
    the session changed."""
    user = g.get("_login_user")
    return bool(getattr(user, "is_authenticated", False)) or session.modified
