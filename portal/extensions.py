"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from flask_wtf import CSRFProtect

from portal.db import Base


class PortalSession(_FlaskSession):
    """Flask-SQLAlchemy's session, but honouring an explicit ``bind``.

    Tests bind the session to one connection inside an outer transaction that is rolled
    back after each test; Flask-SQLAlchemy's ``get_bind`` would otherwise ignore it.
    """

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: sa.Engine | sa.Connection | None = None,
        **kwargs: Any,
    ) -> sa.Engine | sa.Connection:
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": PortalSession})
login_manager = LoginManager()
csrf = CSRFProtect()
