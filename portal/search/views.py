"""The /search page: free text over vendors, buyers and needs, for everyone."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from portal.search.queries import SearchFilters, search

bp = Blueprint("search", __name__)


@bp.get("/search")
def search_page() -> str:
    text = (request.args.get("q") or "")[:500]
    filters, notes = SearchFilters.from_args(request.args)
    page = request.args.get("page", 1, type=int) or 1
    results = search(
        text, filters, page=min(max(page, 1), 500), page_size=current_app.config["PORTAL_PAGE_SIZE"]
    )
    return render_template("search/results.html", results=results, filters=filters, notes=notes)
