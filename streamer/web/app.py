"""The ASGI app (FastAPI): ``POST /v1/recognize``, ``GET /v1/sightings``, OpenAPI at ``/openapi.json``.

Imported only when the HTTP features are enabled (the ``[web]`` extra). Errors answer JSON ``{"detail": "..."}``
with one line saying what was wrong; tokens are never echoed or logged (the caller is logged by token name).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (which name local
# dependencies) at run time.
import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamer.web.images import ImageRejectedError, decode_base64_image, decode_image
from streamer.web.recognize import RecognizeResult, Top5Label, top5
from streamer.web.settings import RecognizeSettings
from streamer.web.tokens import ApiTokens

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from streamer.web.batcher import MicroBatcher

log = logging.getLogger(__name__)

COOKIE = "vehiclewatch_token"


class RecognizeJson(BaseModel):
    """The JSON form of a request: the image as a data URL or plain base64."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        pattern=r"^(data:image/[\w.+-]+;base64,)?[A-Za-z0-9+/\s]*={0,2}\s*$",
        description="The image file's bytes, base64: 'data:image/png;base64,...' or the bare base64 text.",
    )


class _LooseJson(BaseModel):
    """What the endpoint parses (the pattern above is checked by the decoding, with a precise message)."""

    model_config = ConfigDict(extra="forbid")

    image: str


class ErrorBody(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Not an image, corrupt image, bad base64 or bad JSON.",
        401: "No token, or a wrong one.",
        413: "Body larger than web.recognize.max_body_bytes, or image larger than max_side / max_pixels.",
        415: "Content type neither an image nor JSON.",
        503: "The models failed on this batch (see the service log).",
    }.items()
}


def create_app(
    tokens: ApiTokens,
    batcher: "MicroBatcher[NDArray[np.uint8], RecognizeResult] | None",
    settings: RecognizeSettings,
    extra_routes: list[Any] | None = None,
) -> FastAPI:
    """The app.

    Args:
        tokens: the accepted API tokens.
        batcher: the running recognise batcher; None: no models, ``/v1/recognize`` answers 503.
        settings: limits and answer size.
        extra_routes: further APIRouters (the sightings search) to mount.
    """
    app = FastAPI(
        title="vehiclewatch",
        version="1",
        description="Vehicle recognition: recognise vehicles in an image; search the sightings history.",
    )

    def caller(request: Request) -> str:
        header = request.headers.get("authorization")
        # The live page's requests (EventSource, <img>) cannot set a header: its cookie holds the token.
        presented = header if header else request.cookies.get(COOKIE)
        name = tokens.check_header(presented)
        if name is None:
            reason = "missing" if not presented else "wrong"
            log.info("refused %s %s: %s token", request.method, request.url.path, reason)
            raise HTTPException(
                401, f"{reason} token: send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"}
            )
        return name

    app.state.caller = caller

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"body of {declared} bytes: the limit is {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"body larger than the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    body_schema = {
        "required": True,
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": RecognizeJson.model_json_schema()},
        },
    }

    @app.post(
        "/v1/recognize",
        response_model=None,
        responses={
            200: {
                "description": "format=full: the vehicles; format=top5: the seed API's list.",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/RecognizeResult"},
                                {"type": "array", "items": {"$ref": "#/components/schemas/Top5Label"}},
                            ]
                        }
                    }
                },
            },
            **_ERRORS,
        },
        openapi_extra={"requestBody": body_schema},
        summary="Recognise the vehicles in an image",
    )
    async def recognize(
        request: Request,
        who: Annotated[str, Depends(caller)],
        answer_format: Annotated[
            Literal["full", "top5"],
            Query(alias="format", description="full: boxes and every head; top5: the seed's top-5 make_model list."),
        ] = "full",
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await read_body(request)
        try:
            if content_type == "application/json":
                try:
                    data = _LooseJson.model_validate_json(body).image
                except ValidationError:
                    raise ImageRejectedError(400, 'JSON body must be {"image": "data:image/...;base64,..."}') from None
                body = decode_base64_image(data)
            elif content_type and not (content_type.startswith("image/") or content_type == "application/octet-stream"):
                raise ImageRejectedError(415, f"content type {content_type!r}: send an image or application/json")
            image = await anyio.to_thread.run_sync(decode_image, body, settings.max_side, settings.max_pixels)
        except ImageRejectedError as exc:
            log.info("recognise for %s refused: %s", who, exc)
            raise HTTPException(exc.status, str(exc)) from None
        if batcher is None:
            raise HTTPException(503, "no models are configured for recognition")
        try:
            result = await asyncio.wrap_future(batcher.submit(image))
        except Exception as exc:
            raise HTTPException(503, f"recognition failed: {type(exc).__name__}") from None
        if answer_format == "top5":
            return JSONResponse([item.model_dump() for item in top5(result)])
        return JSONResponse(result.model_dump(mode="json"))

    # The models the answers use, for the OpenAPI schema's references.
    app.openapi_schema = None
    _register_models(app, [RecognizeResult, Top5Label])
    for router in extra_routes or []:
        app.include_router(router, dependencies=[Depends(caller)])
    _page_routes(app, tokens)
    return app


class Login(BaseModel):
    token: str


def _page_routes(app: FastAPI, tokens: ApiTokens) -> None:
    """The live page, the review page and their sign-in (the token kept in an HttpOnly, SameSite=Strict cookie)."""
    from streamer.web.page import COMMON_SCRIPT, PAGE, REVIEW_PAGE, REVIEW_SCRIPT, SCRIPT

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/ui", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})

    @app.get("/ui/live.js", include_in_schema=False)
    async def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/ui/common.js", include_in_schema=False)
    async def common_script() -> Response:
        return Response(COMMON_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/ui/review", include_in_schema=False)
    async def review_page() -> HTMLResponse:
        return HTMLResponse(REVIEW_PAGE, headers={"Cache-Control": "no-store"})

    @app.get("/ui/review.js", include_in_schema=False)
    async def review_script() -> Response:
        return Response(REVIEW_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.post("/ui/login", include_in_schema=False)
    async def login(body: Login, request: Request) -> Response:
        name = tokens.name_of(body.token)
        if name is None:
            log.info("page sign-in refused: wrong token")
            return JSONResponse({"detail": "wrong token"}, status_code=401)
        response = Response(status_code=204)
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", secure=secure, path="/")
        log.info("page signed in as %s", name)
        return response


def _register_models(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Adds response models to the OpenAPI components (the recognise answer is one of two shapes)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                model_schema = model.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode="serialization"
                )
                for name, definition in model_schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
