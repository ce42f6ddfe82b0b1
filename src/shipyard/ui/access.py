"""Who may look and who may act: the dashboard's sign-in and its guard against forged forms.

Without a token (``SHIPYARD_API_TOKEN`` or ``serve.token``) every page is open, as on a
laptop.  With one, a page asks for it once on a sign-in form and keeps an HTTP-only,
same-site cookie holding an HMAC of the token (never the token): every server process
checks it without shared state, and changing the token signs everyone out.

Every form, signed in or not, carries a random value that must equal the one in the
``shipyard_csrf`` cookie (the double-submit pattern), and a request whose ``Origin`` is
another site's is refused: a page elsewhere cannot make a visitor's browser roll a model
back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import SecretStr
from starlette.requests import Request

from shipyard.errors import Unauthorized

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "SESSION_COOKIE", "Access", "Forbidden"]

SESSION_COOKIE = "shipyard_session"
CSRF_COOKIE = "shipyard_csrf"
CSRF_FIELD = "csrf"
_SESSION_PURPOSE = b"shipyard dashboard session"


class Forbidden(Unauthorized):
    """A form arrived without this browser's CSRF value, or from another site."""


class Access:
    """The dashboard's token check, session cookie and CSRF values."""

    def __init__(self, token: SecretStr | None) -> None:
        self._token = None if token is None else token.get_secret_value().encode()
        self._session = (
            None
            if self._token is None
            else hmac.new(self._token, _SESSION_PURPOSE, hashlib.sha256).hexdigest()
        )

    @property
    def required(self) -> bool:
        """Whether pages ask for the token."""
        return self._token is not None

    def signed_in(self, request: Request) -> bool:
        if self._session is None:
            return True
        given = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(given.encode(), self._session.encode())

    def session_for(self, token: str) -> str | None:
        """The session cookie's value when ``token`` is the configured one, else None."""
        if self._token is None or self._session is None:
            return None
        if not hmac.compare_digest(token.strip().encode(), self._token):
            return None
        return self._session

    @staticmethod
    def csrf_value(request: Request) -> str:
        """This browser's CSRF value: its cookie's, or a new one the response will set."""
        value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
        if not value:
            value = secrets.token_urlsafe(32)
            request.state.new_csrf = value
        return value

    def check_form(self, request: Request, submitted: str | None) -> None:
        """Raise ``Forbidden`` unless the form came from one of this dashboard's pages."""
        if not self.signed_in(request):
            raise Unauthorized("sign in with the API token first")
        origin = request.headers.get("origin")
        if origin is not None and origin != "null":
            expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin != expected:
                raise Forbidden(f"a form from {origin} cannot act on this dashboard")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
            raise Forbidden(
                "this form is stale or came from another site; reload the page and try again"
            )
