"""Pages as HTML: the Jinja2 environment, the values every page gets, forms and flashes.

A page handler calls the project's API and hands plain values to ``Pages.render``; what
happened after a form (done, or refused and why) travels to the next page in a
one-request cookie, so a reload does not repeat the message or the action.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shipyard import __version__
from shipyard.errors import InvalidRequest
from shipyard.monitoring.report import script_json
from shipyard.project import Project
from shipyard.ui.access import CSRF_COOKIE, CSRF_FIELD, Access

__all__ = ["FLASH_COOKIE", "NAVIGATION", "Dashboard", "Pages", "read_form"]

FLASH_COOKIE = "shipyard_flash"
MAX_FORM_BYTES = 64 * 1024

#: The sections in the navigation bar: (path, title).
NAVIGATION = (
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/models", "Registry"),
    ("/deployments", "Deployments"),
    ("/monitoring", "Monitoring"),
    ("/review", "Review"),
    ("/predictions", "Predictions"),
    ("/lineage", "Lineage"),
)


def _when(value: datetime | None) -> str:
    """A moment in UTC to the second, as the CLI prints it."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** -(digits - 1)):
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.1f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


class Pages:
    """Renders the dashboard's templates with what every page needs."""

    def __init__(self, access: Access, *, project_name: str) -> None:
        self.access = access
        self.project_name = project_name
        self.environment = Environment(
            loader=PackageLoader("shipyard.ui", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters.update(
            when=_when, ago=_ago, number=_number, seconds=_seconds, pretty_json=_pretty_json
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        section: str,
        status: int = 200,
        figures: Mapping[str, Any] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """``template`` rendered with ``context``; ``section`` lights up in the navigation,
        ``figures`` (div id → Plotly figure) are drawn by the page's script."""
        prefix = request.scope.get("root_path", "")
        flash = _read_flash(request)
        page = self.environment.get_template(template).render(
            **context,
            request=request,
            url=lambda path: prefix + path,
            section=section,
            navigation=NAVIGATION,
            project=self.project_name,
            version=__version__,
            csrf=self.access.csrf_value(request),
            csrf_field=CSRF_FIELD,
            signed_in=self.access.required and self.access.signed_in(request),
            flash=flash,
            figures_json=Markup(script_json(dict(figures or {}))),
        )
        response = HTMLResponse(page, status_code=status)
        self.finish(request, response)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=prefix or "/")
        return response

    def redirect(
        self, request: Request, path: str, *, done: str | None = None, error: str | None = None
    ) -> RedirectResponse:
        """A 303 to ``path`` (under the dashboard) carrying one message for the next page."""
        prefix = request.scope.get("root_path", "")
        response = RedirectResponse(prefix + path, status_code=303)
        if done is not None or error is not None:
            message = json.dumps({"kind": "error" if error else "done", "text": error or done})
            response.set_cookie(
                FLASH_COOKIE,
                urllib.parse.quote(message),
                max_age=60,
                path=prefix or "/",
                httponly=True,
                samesite="strict",
            )
        self.finish(request, response)
        return response

    @staticmethod
    def finish(request: Request, response: Response) -> None:
        """Set the CSRF cookie on ``response`` if this request made a new value."""
        value = getattr(request.state, "new_csrf", None)
        if value:
            response.set_cookie(
                CSRF_COOKIE,
                value,
                path=request.scope.get("root_path", "") or "/",
                httponly=True,
                samesite="strict",
            )


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        message = json.loads(urllib.parse.unquote(raw))
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("kind") not in ("done", "error"):
        return None
    return {"kind": str(message["kind"]), "text": str(message.get("text", ""))}


async def read_form(request: Request, access: Access) -> dict[str, str]:
    """A posted form's fields (the last value of each), after the CSRF check.

    Parsed here rather than through FastAPI's ``Form``, which needs python-multipart
    for what is always ``application/x-www-form-urlencoded`` on these pages.
    """
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest("the form is over 64 KiB", field="body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the form is not UTF-8", field="body") from exc
    fields = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    access.check_form(request, fields.pop(CSRF_FIELD, None))
    return fields


@dataclass(frozen=True)
class Dashboard:
    """What each page's routes work with: the project's API, the renderer, the guard."""

    project: Project
    pages: Pages
    access: Access

    async def form(self, request: Request) -> dict[str, str]:
        """The posted form's fields, checked against forgery (see ``read_form``)."""
        return await read_form(request, self.access)
