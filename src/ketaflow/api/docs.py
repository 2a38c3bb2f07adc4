"""The interactive API docs at /api/docs, served entirely from this server.

ninja's default page loads Swagger UI from a CDN, which the Content-Security-Policy (scripts from
'self' only) rightly blocks; and ninja is not an installed app, so its static files are not
collected. This page serves ninja's bundled Swagger UI files itself and carries the CSRF token, so
"Try it out" works with the signed-in session as well as with a bearer token.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import escape, json_script
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui-init.js", "swagger-ui.css", "favicon.png"})
ASSET_URL_NAME = "api-docs-asset"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="{favicon}" type="image/png">
<link rel="stylesheet" href="{css}">
</head>
<body data-csrf-token="{csrf}" data-api-csrf="true">
{settings}
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return reverse(ASSET_URL_NAME, kwargs={"name": name})


class SelfHostedSwagger(DocsBase):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
            "validatorUrl": None,
            "persistAuthorization": False,
        }
        html = PAGE.format(
            title=escape(api.title),
            favicon=_asset("favicon.png"),
            css=_asset("swagger-ui.css"),
            csrf=escape(get_token(request)),
            settings=json_script(settings, "swagger-settings"),
            bundle=_asset("swagger-ui-bundle.js"),
            init=_asset("swagger-ui-init.js"),
        )
        return HttpResponse(html)


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One of Swagger UI's files, from the installed django-ninja (never an arbitrary path)."""
    if name not in ASSETS:
        raise Http404(name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((ASSET_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
