"""media: serves each post's image (deterministic, ~200 KB) and its metadata; its only edge is config."""

from __future__ import annotations

from typing import Any

from services.common.images import MEDIA_IDS, image
from services.common.runtime import Runtime, main
from services.common.web import json_response

__all__ = ["build"]


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The media service's runtime and app."""
    from starlette.responses import Response
    from starlette.routing import Route

    rt = Runtime("media", ("config",), environ=environ)

    def not_found(media_id: int) -> Any:
        return json_response({"error": f"no image {media_id}"}, 404)

    async def get_media(request: Any) -> Any:
        media_id = request.path_params["media_id"]
        if media_id not in MEDIA_IDS:
            return not_found(media_id)
        return Response(image(media_id), media_type="image/png", headers={"cache-control": "max-age=60"})

    async def get_meta(request: Any) -> Any:
        media_id = request.path_params["media_id"]
        if media_id not in MEDIA_IDS:
            return not_found(media_id)
        return json_response({"id": media_id, "url": f"/api/media/{media_id}", "content_type": "image/png",
                              "bytes": len(image(media_id)), "width": 256, "height": 256})

    async def warm() -> None:
        for media_id in MEDIA_IDS:  # a few ms in all; the first journey should not pay for it
            image(media_id)

    rt.on_startup("images", warm)
    return rt, rt.app([
        Route("/media/{media_id:int}", get_media),
        Route("/meta/{media_id:int}", get_meta),
    ])


if __name__ == "__main__":
    main(build)
