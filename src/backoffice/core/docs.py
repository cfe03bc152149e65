"""The API docs (Swagger UI at `/docs`, ReDoc at `/redoc`) with no internet.

FastAPI's own pages load their scripts, styles, favicon and fonts from CDNs, so they stay blank
on a machine without internet (an air-gapped deployment, a laptop on a train). The same pages
here load the assets that the `fastapi-offline` wheel ships, served by the app itself under
`/docs/static` (a docs path, which the CSP middleware leaves alone). We mount them ourselves
rather than build the app with `FastAPIOffline` so that `create_app` keeps a plain `FastAPI`.

ReDoc's bundle still draws a "Redocly" logo from its CDN in the side menu (unconditionally,
hidden when it fails to load), so the page would try the internet on every load: the bundle is
served with that one URL replaced by a blank inline image. A test loads both pages in a
browser that refuses and records every request leaving the machine.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = "/docs/static"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Any image ReDoc would fetch from its own site (today its logo, on its CDN): matched by host and
# kind rather than one exact URL, so a bundle that moves the logo still loads nothing from outside.
REDOC_IMAGES = re.compile(rb"https://[a-z0-9.-]*redoc\.ly/[A-Za-z0-9./_-]+\.(?:svg|png|gif)")
BLANK_IMAGE = b"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle with its site's images (its logo) replaced by a blank inline one.

    Read on the first request for it, not when an app is built (1 MB nobody may ask for).
    """
    bundle = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_bytes()
    return REDOC_IMAGES.sub(BLANK_IMAGE, bundle)


def install_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets locally; `/` redirects to `/docs`.

    The app must be built with `docs_url=None, redoc_url=None` (FastAPI's CDN pages).
    """
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(f"{STATIC}/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:  # before the mount, which would serve the file as it is
        return Response(
            redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
        )

    app.mount(STATIC, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
            # No badge that sends the schema to validator.swagger.io.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC}/favicon.png",
            with_google_fonts=False,
        )

    # `/` leads to the app's home: the docs, unless a context serves pages (the console).
    app.state.home = "/docs"

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{request.app.state.home}")
