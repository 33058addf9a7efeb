"""Registration, email confirmation, login, logout, account settings and password reset.

Views stay thin: parse a form, call one service, commit once, redirect. Pages that take
an email address answer the same whether or not it has an account.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from portal.accounts import services
from portal.accounts.forms import (
    ChangePasswordForm,
    EmailOnlyForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
    ResetPasswordForm,
)
from portal.accounts.models import User
from portal.extensions import db
from portal.mail.services import send_after_response
from portal.safe_urls import safe_next_url

bp = Blueprint("accounts", __name__)

ResponseLike = Response | str | tuple[str, int]


@bp.context_processor
def _account_rules() -> dict[str, int]:
    return {"min_password_length": services.MIN_PASSWORD_LENGTH}


def _remembered() -> bool:
    """Whether this browser holds a 'keep me logged in' cookie, to keep it after re-login."""
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def landing_page(user: User) -> str:
    """Where a login lands without a ``next``: staff on their pipeline, members home."""
    return url_for("staff.dashboard_page") if user.is_staff else url_for("home.index")


def _log_in(user: User, *, remember: bool) -> None:
    """Open a server-side login session and hand its token to Flask-Login's cookies."""
    services.start_session(user, remember=remember)
    db.session.commit()
    login_user(user, remember=remember)


# --- registration and confirmation ---------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseLike:
    form = RegistrationForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("accounts/register.html", form=form), status
    try:
        services.register_member(
            kind=form.kind.data or "",
            full_name=form.full_name.data or "",
            email=form.email.data or "",
            password=form.password.data or "",
            organization_name=form.organization_name.data or "",
            country=form.country.data or "",
            city=form.city.data or "",
            timezone=form.timezone.data or "",
        )
        db.session.commit()
    except services.AccountError as exc:  # the form already checks all of this
        db.session.rollback()
        form.form_errors.append(str(exc))
        return render_template("accounts/register.html", form=form), 400
    except IntegrityError:
        # Two registrations of one new address at once: the second loses the race on
        # the unique email and gets the same answer as any known address.
        db.session.rollback()
    # The same answer whether the address was new or already had an account.
    return redirect(url_for("accounts.check_inbox"))


@bp.get("/register/check-inbox")
def check_inbox() -> str:
    return render_template("accounts/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm_email(token: str) -> ResponseLike:
    try:
        services.confirm_email(token)
    except services.InvalidToken:
        db.session.rollback()
        return render_template("accounts/confirm_invalid.html"), 400
    db.session.commit()
    flash(gettext("Your email address is confirmed. You can log in now."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/confirm/resend", methods=["GET", "POST"])
def resend_confirmation() -> ResponseLike:
    form = EmailOnlyForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("accounts/resend_confirmation.html", form=form), status
    # After the response, so that neither the answer nor its timing tells whether the
    # address has an unconfirmed account.
    send_after_response(services.resend_confirmation, form.email.data or "")
    return redirect(url_for("accounts.check_inbox"))


# --- login and logout ----------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseLike:
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or landing_page(_current_user()))
    form = LoginForm()
    login_error: str | None = None
    needs_confirmation = False
    if form.validate_on_submit():
        try:
            user = services.sign_in(form.email.data or "", form.password.data or "")
        except services.EmailNotConfirmed:
            db.session.rollback()
            login_error = gettext(
                "Please confirm your email address first: follow the link we mailed you."
            )
            needs_confirmation = True
        except services.LoginError as exc:
            db.session.rollback()
            login_error = str(exc)
        else:
            _log_in(user, remember=bool(form.remember.data))
            flash(gettext("You are logged in."), "success")
            return redirect(next_url or landing_page(user))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "accounts/login.html",
        form=form,
        next_url=next_url,
        login_error=login_error,
        needs_confirmation=needs_confirmation,
    ), status


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        # Server-side: a copy of the session or remember-me cookie is now worth nothing.
        services.end_session(_current_user().login_token)
        db.session.commit()
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("home.index"))


# --- settings ------------------------------------------------------------------------


def _settings_page(
    profile_form: ProfileForm, password_form: ChangePasswordForm, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "accounts/settings.html", profile_form=profile_form, password_form=password_form
    ), status


def _current_user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


@bp.route("/account", methods=["GET", "POST"])
@login_required
def settings() -> ResponseLike:
    user = _current_user()
    profile_form = ProfileForm(prefix="profile", obj=user)
    password_form = ChangePasswordForm(prefix="password", formdata=None)
    if not profile_form.validate_on_submit():
        return _settings_page(profile_form, password_form, 400 if request.method == "POST" else 200)
    try:
        services.update_profile(
            user,
            full_name=profile_form.full_name.data or "",
            timezone=profile_form.timezone.data,
            locale=profile_form.locale.data or None,
        )
    except services.AccountError as exc:
        db.session.rollback()
        profile_form.form_errors.append(str(exc))
        return _settings_page(profile_form, password_form, 400)
    db.session.commit()
    flash(gettext("Your settings are saved."), "success")
    return redirect(url_for("accounts.settings"))


@bp.post("/account/password")
@login_required
def change_password() -> ResponseLike:
    user = _current_user()
    profile_form = ProfileForm(prefix="profile", obj=user, formdata=None)
    password_form = ChangePasswordForm(prefix="password")
    if not password_form.validate_on_submit():
        return _settings_page(profile_form, password_form, 400)
    try:
        services.change_password(
            user,
            current_password=password_form.current_password.data or "",
            new_password=password_form.new_password.data or "",
        )
    except services.WrongCurrentPassword as exc:
        db.session.rollback()
        password_form.current_password.errors = [str(exc)]
        return _settings_page(profile_form, password_form, 400)
    # The change ended every session of the user, this one too: open a new one.
    _log_in(user, remember=_remembered())
    flash(gettext("Your password is changed. Other devices have been logged out."), "success")
    return redirect(url_for("accounts.settings"))


# --- password reset ------------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
def reset_request() -> ResponseLike:
    form = EmailOnlyForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("accounts/reset_request.html", form=form), status
    # After the response: the page answers before anything about the address is looked
    # up, so neither its text nor its timing tells whether it has an account.
    send_after_response(services.request_password_reset, form.email.data or "")
    flash(
        (
            gettext(
                "If an account exists for that address, we have sent it a "
                "link to reset the password. Please check your inbox."
            )
        ),
        "info",
    )
    return redirect(url_for("accounts.reset_request"))


def _no_referrer(body: str, status: int) -> Response:
    """The reset page's URL holds the token: never send it on to another site."""
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response:
    if services.find_valid_reset(token) is None:
        return _no_referrer(render_template("accounts/reset_invalid.html"), 400)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return _no_referrer(render_template("accounts/reset_password.html", form=form), status)
    try:
        user = services.reset_password(token, form.password.data or "")
    except services.InvalidToken:
        db.session.rollback()
        return _no_referrer(render_template("accounts/reset_invalid.html"), 400)
    except services.AccountError as exc:  # the form already checks the length
        db.session.rollback()
        form.password.errors = [str(exc)]
        return _no_referrer(render_template("accounts/reset_password.html", form=form), 400)
    _log_in(user, remember=False)
    flash(gettext("Your password is changed and you are logged in."), "success")
    return redirect(landing_page(user))
