"""Swagger UI (/docs) and ReDoc (/redoc) from files installed with the package, and the OpenAPI document itself.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they are
blank on a machine without internet (an air-gapped deployment, a laptop on a
train). fastapi-offline ships the same bundles (Swagger UI, ReDoc, favicon) as
package data; they are mounted under ``/docs-static`` and the two pages point
there, with Google fonts off, so nothing is fetched from elsewhere.

``create_app`` calls :func:`install_docs` before the routers are included and
before the API-key check is installed, so the pages, their assets and
``/openapi.json`` answer without a key (they describe the API, they expose no data).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .openapi import install_openapi

STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
STATIC_URL = "/docs-static"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc without a CDN, and /openapi.json with this server's limits."""
    install_openapi(app, app.state.vecdex.core.settings)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=base + redirect_url,
            swagger_js_url=f"{base}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{base}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
