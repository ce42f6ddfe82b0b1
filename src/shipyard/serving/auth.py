"""The API token: routes that change state need ``Authorization: Bearer <token>``.

Without a configured token (``SHIPYARD_API_TOKEN`` or ``serve.token``) every route is
open, as on a laptop.  With one, deploy, switch, promote, rollback, feedback and every
admin route answer 401 without it and change nothing; predictions too when
``serve.protect_predictions`` is set.  The comparison takes the same time whatever the
bytes given (``hmac.compare_digest``), and the token is never logged or shown.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from pydantic import SecretStr

from shipyard.errors import Unauthorized

__all__ = ["UNAUTHORIZED", "TokenCheck"]

UNAUTHORIZED = (
    "this route needs 'Authorization: Bearer <token>' with the token configured as "
    "SHIPYARD_API_TOKEN or serve.token"
)
_PREFIX = b"bearer "


class TokenCheck:
    """Whether a request's headers carry the configured token (always, if none is)."""

    def __init__(self, token: SecretStr | None, *, protect_predictions: bool = False) -> None:
        self._token = None if token is None else token.get_secret_value().encode()
        self.protect_predictions = protect_predictions and self._token is not None

    @property
    def required(self) -> bool:
        return self._token is not None

    def allows(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """True when no token is configured or ``headers`` (ASGI's, lower-case names)
        hold ``authorization: Bearer <token>``."""
        if self._token is None:
            return True
        for name, value in headers:
            if name == b"authorization":
                given = value[len(_PREFIX) :] if value[:7].lower() == _PREFIX else b""
                return hmac.compare_digest(given.strip(), self._token)
        return False

    def check(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Raise ``Unauthorized`` unless ``allows(headers)``."""
        if not self.allows(headers):
            raise Unauthorized(UNAUTHORIZED)
