"""Where a form may send the browser back to: only a path on this site, never elsewhere."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: no open redirect.

    Refuses absolute URLs, scheme-relative ones (``//evil.example``), backslashes (which
    browsers read as slashes) and any whitespace or control character (which browsers
    strip, turning ``/\\t/evil.example`` into ``//evil.example``).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
