"""The /search page: free text over vendors, buyers and needs, for everyone."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from portal.request_input import int_arg
from portal.search.queries import SearchFilters, search

bp = Blueprint("search", __name__)


@bp.get("/search")
def search_page() -> str:
    text = (request.args.get("q") or "")[:500]
    filters, notes = SearchFilters.from_args(request.args)
    results = search(
        text,
        filters,
        page=int_arg("page", 1, maximum=500) or 1,
        page_size=current_app.config["PORTAL_PAGE_SIZE"],
    )
    return render_template("search/results.html", results=results, filters=filters, notes=notes)
