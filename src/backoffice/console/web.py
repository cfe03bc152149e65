"""Drawing pages: the templates, the console's headers, forms, redirects and error pages.

Every page is rendered on the server from `templates/` (Jinja2, autoescaped). A page that
updates part of itself asks for one block of its template (`block=`, jinja2-fragments), the
same markup either way. Pages are served with a Content-Security-Policy of their own: scripts,
styles, images and fonts from this origin only, no inline script or style, forms posting
only here, never framed.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2_fragments import render_block
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from backoffice.console.access import navigation, signed_in
from backoffice.core.errors import DomainError, Forbidden
from backoffice.core.spreadsheet import spreadsheet_cell

HERE = Path(__file__).parent
STATIC_URL = "/console/static"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none';"
    " frame-ancestors 'none'"
)
# No page is kept by a shared cache or the browser's back button after sign-out. The browser
# names this origin on the console's own form posts (`same_origin`), and no other site.
PAGE_HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
# What was just done, shown once on the next page (set by `redirect`).
NOTICE_COOKIE = "backoffice_console_notice"
# A form is small: its fields, never a file (uploads stream on their own routes).
MAX_FORM_FIELDS = 200

ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a missing value is a bug in the page, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


class CsrfFailed(Forbidden):
    """A form without this session's token: sent by another site, or from an expired page."""

    code = "csrf_failed"
    default_message = (
        "This form has expired or came from another site. Reload the page and try again."
    )


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page `template` (or one `block` of it) with `context` and the layout's values."""
    values = {**layout_values(request), **context}
    if block is not None:
        html = render_block(ENV, template, block, values)
    else:
        html = ENV.get_template(template).render(values)
    response = HTMLResponse(
        html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})}
    )
    if values["notice"] and block is None:
        response.delete_cookie(NOTICE_COOKIE, path="/console")  # shown once
    return response


def layout_values(request: Request) -> dict[str, Any]:
    """What every page's layout needs: who is signed in, their CSRF token, the navigation."""
    visitor = signed_in(request)
    return {
        "request": request,
        "visitor": visitor,
        "csrf_token": visitor.csrf_token if visitor is not None else "",
        "navigation": navigation(visitor),
        "static": STATIC_URL,
        "path": request.url.path,
        "notice": unquote(request.cookies.get(NOTICE_COOKIE, ""))[:500],
    }


def redirect(url: str, *, notice: str | None = None, status_code: int = 303) -> RedirectResponse:
    """After a form: see the result with a GET (a reload does not post the form again).

    `notice` (what was done, in a sentence) is shown once on the next page.
    """
    response = RedirectResponse(url, status_code=status_code, headers=PAGE_HEADERS)
    if notice:
        response.set_cookie(
            NOTICE_COOKIE,
            quote(notice[:500]),
            max_age=60,
            path="/console",
            httponly=True,
            samesite="lax",
        )
    return response


def local_path(candidate: str | None, default: str = "/console/") -> str:
    """`candidate` if it is a console path on this site, else `default` (no open redirect)."""
    if (
        candidate
        and candidate.startswith("/console/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and all(c.isprintable() for c in candidate)
    ):
        return candidate
    return default


async def read_form(request: Request, csrf_token: str) -> FormData:
    """The posted form, once its CSRF token is this session's (`CsrfFailed` otherwise).

    Read after the caller is known (the access dependencies run first), never with files.
    """
    if not csrf_token or not same_origin(request):  # no session, no token to match
        raise CsrfFailed()
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    sent = form.get("csrf_token")
    # As bytes: compare_digest refuses a str with non-ASCII characters (a forged field may hold any).
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), csrf_token.encode()):
        raise CsrfFailed()
    return form


def same_origin(request: Request) -> bool:
    """Whether a browser that says where the request comes from says it comes from here."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def text_field(form: FormData, name: str, *, max_length: int = 200) -> str:
    """A form's text field, stripped; '' when absent. Longer than `max_length`: a field error."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > max_length:
        raise FieldProblem(name, f"At most {max_length} characters.")
    return text


class FieldProblem(DomainError):
    """One field of a form is wrong: the page shows `message` next to it."""

    status_code = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message, "code": self.code}])
        self.field_name = field


def field_errors(error: DomainError, default_field: str = "form") -> dict[str, str]:
    """A domain error as messages by form field, for drawing next to each field."""
    if error.errors:
        return {str(e.get("field") or default_field): str(e["message"]) for e in error.errors}
    return {default_field: error.message}


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """`path` with the non-empty `params` as its query string."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """Rows as a CSV download (cells that a spreadsheet would run as formulas are quoted)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def error_page(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None,
) -> Response:
    """An error on a console route, as a page (`core.envelope.ErrorPage`).

    A 401 is a way to the sign-in page (`Location` in `headers`, else the staff one); anything
    else is a page that says what happened in plain words, with the request id to quote.
    """
    if status_code == 401:
        location = (headers or {}).get("Location") or sign_in_url(request)
        return redirect(location)
    kept = {k: v for k, v in (headers or {}).items() if k.lower() in ("retry-after", "allow")}
    title = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else ""
    context = {
        "status": status_code,
        "title": title or "Error",
        "message": message,
        "code": code,
        "request_id": request.scope.get("state", {}).get("request_id", ""),
    }
    try:
        return render(request, "error.html", status_code=status_code, headers=kept, **context)
    except Exception:  # the layout itself failed (the database is down): a page without it
        html = ENV.get_template("error_bare.html").render(context, static=STATIC_URL)
        return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **kept})


def sign_in_url(request: Request) -> str:
    """The staff sign-in page, coming back to this page after."""
    back = request.url.path if request.method == "GET" else None
    return with_query("/console/sign-in", {"next": local_path(back, "")})
