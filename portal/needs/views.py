"""PLACEHOLDER: replaced by the organizations helper."""
from flask import Blueprint
bp = Blueprint("needs", __name__)
@bp.route("/needs")
def directory(): return "needs"
@bp.route("/needs/<ref>")
def detail(ref): return ref
