"""PLACEHOLDER: replaced by the organizations helper."""
from flask import Blueprint
bp = Blueprint("organizations", __name__)
@bp.route("/vendors")
def vendors(): return "vendors"
@bp.route("/buyers")
def buyers(): return "buyers"
@bp.route("/organization")
def my_organization(): return "mine"
