"""PLACEHOLDER: replaced by the accounts helper."""
from flask import Blueprint
bp = Blueprint("accounts", __name__)
@bp.route("/login")
def login(): return "login"
@bp.route("/register")
def register(): return "register"
@bp.route("/account")
def settings(): return "settings"
@bp.post("/logout")
def logout(): return "logout"
