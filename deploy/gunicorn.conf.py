"""gunicorn settings for the portal: ``gunicorn --config deploy/gunicorn.conf.py wsgi:app``.

Every value can be changed with an environment variable (the systemd unit reads them from
the same file as the portal's own settings); see docs/deploy.md.
"""

import multiprocessing
import os

# nginx on the same machine talks to this address; never expose it to the network.
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")

# Sync workers, each one request at a time, behind nginx's buffering (slow clients are
# nginx's problem, not a worker's). 2 x cores + 1 is gunicorn's rule of thumb.
workers = int(os.environ.get("PORTAL_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("PORTAL_WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that no slow leak grows for weeks.
max_requests = 2000
max_requests_jitter = 200

# Each worker builds the app after the fork: no database connection, Whoosh searcher or
# Redis client is shared between processes.
preload_app = False

# Whether a request came over HTTPS, and from which client, is decided by the app from
# the headers of PORTAL_PROXY_HOPS trusted proxies (werkzeug's ProxyFix), in one place:
# gunicorn's own reading of X-Forwarded-Proto is turned off.
secure_scheme_headers: dict[str, str] = {}

# The app writes one line per request itself (PORTAL_LOG_FORMAT=json); gunicorn's access
# log would only repeat it, and it would log the query strings that ours leaves out.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("PORTAL_WEB_LOGLEVEL", "info")


def when_ready(server) -> None:  # type: ignore[no-untyped-def]  # gunicorn's hook
    """Say at start-up when each worker keeps its own rate-limit counters."""
    enabled = os.environ.get("PORTAL_RATELIMIT_ENABLED", "true").strip().lower()
    storage = os.environ.get("PORTAL_RATELIMIT_STORAGE_URL", "memory://")
    if workers > 1 and storage.startswith("memory://") and enabled in {"1", "true", "yes", "on"}:
        server.log.warning(
            "rate limits are counted per worker (PORTAL_RATELIMIT_STORAGE_URL=memory://): "
            "with %d workers a client gets %d times each limit; set "
            "PORTAL_RATELIMIT_STORAGE_URL=redis://127.0.0.1:6379/0 to share the counters "
            "(docs/deploy.md)",
            workers,
            workers,
        )


if os.environ.get("PORTAL_LOG_FORMAT") == "json":
    # gunicorn's own messages (workers booting, timeouts) as JSON lines too.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
        },
    }
