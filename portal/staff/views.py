"""PLACEHOLDER: replaced by the organizations helper."""
from flask import Blueprint
bp = Blueprint("staff", __name__, url_prefix="/staff")
@bp.route("/verification")
def verification_queue(): return "queue"
