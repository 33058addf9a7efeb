"""The /search page: free text over vendors, buyers and needs, for everyone."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request

from portal.request_input import int_arg
from portal.search.index import IndexOutdated
from portal.search.queries import SearchFilters, SearchResults, search

bp = Blueprint("search", __name__)
log = logging.getLogger(__name__)


@bp.get("/search")
def search_page() -> str | tuple[str, int, dict[str, str]]:
    text = (request.args.get("q") or "")[:500]
    filters, notes = SearchFilters.from_args(request.args)
    try:
        results = search(
            text,
            filters,
            page=int_arg("page", 1, maximum=500) or 1,
            page_size=current_app.config["PORTAL_PAGE_SIZE"],
        )
    except IndexOutdated as error:
        # After an upgrade that changed the index's schema, until it is rebuilt: say so
        # rather than search an index that lacks fields (or fail the page).
        log.warning("search refused: %s", error)
        page = render_template(
            "search/results.html",
            results=SearchResults(text=text),
            filters=filters,
            notes=notes,
            unavailable=True,
        )
        return page, 503, {"Retry-After": "300"}
    return render_template("search/results.html", results=results, filters=filters, notes=notes)
