"""``lazy_gettext`` for text that is built once (form classes, module constants) and read in
each request's (or mail's) language.

Flask-Babel's own lazy string declares itself safe HTML (``__html__`` returns it as is), so
a translated message with a name someone typed in it (``%(name)s``) would reach a page
unescaped. Ours is escaped like any other string when a template prints it.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext, ngettext
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape


class LazyText(LazyString):
    """A message translated when it is read; in a template, escaped as plain text is."""

    def __html__(self) -> Markup:
        return escape(str(self))


def lazy_gettext(string: str, **variables: Any) -> LazyText:
    """``gettext(string, **variables)``, done each time the text is read."""
    return LazyText(gettext, string, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables: Any) -> LazyText:
    """``ngettext(singular, plural, num, **variables)``, done each time the text is read
    (``%(num)s`` is the count), e.g. a mail subject rendered in its recipient's language."""
    return LazyText(ngettext, singular, plural, num, **variables)
