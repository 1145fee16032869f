"""Swagger UI and ReDoc pages served from local files (hospital intranets are offline).

Create the app with ``docs_url=None, redoc_url=None`` and call :func:`install_local_docs`. The
assets (``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js``,
``favicon-32x32.png``) ship in ``shared/static/docs``; no page refers to an external URL.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = Path(__file__).parent / "static" / "docs"
REQUIRED_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")


def install_local_docs(
    app: FastAPI,
    *,
    static_dir: Path = DOCS_ASSETS,
    title: str | None = None,
    mount_path: str = "/static/docs",
    docs_url: str = "/docs",
    redoc_url: str = "/redoc",
) -> None:
    """Serve ``docs_url`` (Swagger UI) and ``redoc_url`` (ReDoc) with assets from
    ``static_dir``, mounted at ``mount_path``."""
    missing = [name for name in REQUIRED_ASSETS if not (static_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"API docs assets missing in {static_dir}: {', '.join(missing)}")
    openapi_url = app.openapi_url or "/openapi.json"
    page_title = title or app.title
    favicon = f"{mount_path}/favicon-32x32.png"
    app.mount(mount_path, StaticFiles(directory=static_dir), name="docs-static")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{page_title} — Swagger UI",
            swagger_js_url=f"{mount_path}/swagger-ui-bundle.js",
            swagger_css_url=f"{mount_path}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get(redoc_url, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{page_title} — ReDoc",
            redoc_js_url=f"{mount_path}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
