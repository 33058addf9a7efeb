"""The landing page's neighbours: the icon every page links to."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_every_page_links_the_icon_and_favicon_ico_answers_with_it(client: FlaskClient) -> None:
    """Regression: no favicon, so every page view cost a 404 for /favicon.ico."""
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "image/svg+xml"
        assert b"<svg" in response.data
