"""The console's stylesheet, script and icon, served from the package (nothing from elsewhere).

Read once at import into a fixed table: a name that is not in it is a 404, whatever it
contains (no path reaches the file system).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.web import STATIC_URL
from backoffice.core.errors import NotFound
from backoffice.core.routing import ApiRouter

_KINDS = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSETS: dict[str, tuple[bytes, str, str]] = {}  # name: (content, media type, ETag)
for _path in sorted((Path(__file__).parent / "static").iterdir()):
    if _path.suffix in _KINDS:
        _content = _path.read_bytes()
        _etag = '"' + hashlib.sha256(_content).hexdigest()[:16] + '"'
        ASSETS[_path.name] = (_content, _KINDS[_path.suffix], _etag)

router = ApiRouter(include_in_schema=False)


@router.get(STATIC_URL + "/{name}")
async def asset(name: str, request: Request) -> Response:
    """One of the console's files; a browser that has it is told so (304)."""
    found = ASSETS.get(name)
    if found is None:
        raise NotFound("There is no such file.")
    content, media_type, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache"}  # revalidated: a release shows at once
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)
