"""URLs under /api/: the docs' own assets, the API, and a JSON 404 for everything else."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from .app import api
from .docs import ASSET_URL_NAME, docs_asset
from .errors import NOT_FOUND


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse({"errors": [{"field": None, "message": NOT_FOUND}]}, status=404)


urlpatterns = [
    path("", not_found),
    path("docs/assets/<str:name>", docs_asset, name=ASSET_URL_NAME),
    path("", api.urls),
    re_path(r"^(?P<rest>.*)$", not_found),
]
