"""The few static files the pages use (a stylesheet, the copy button)."""

from __future__ import annotations

from fastapi.responses import Response

from keyplane.domain.errors import NotFound
from keyplane.http.routing import APIRouter
from keyplane.web.context import STATIC

router = APIRouter(include_in_schema=False)
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
FILES = {path.name: path for path in STATIC.iterdir() if path.suffix in TYPES}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = FILES.get(name)
    if path is None:
        raise NotFound(f"no static file {name}")
    return Response(
        path.read_bytes(),
        media_type=TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
