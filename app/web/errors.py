"""The one mapping from domain errors to HTTP: status codes, JSON bodies for the API, pages for people."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth.deps import LoginRequired
from app.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from app.core.validation import chinese_message

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    NotAuthenticated: 401,
    Conflict: 409,
    InvalidInput: 422,
    TooManyAttempts: 429,
}

HTTP_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权进行此操作",
    404: "找不到该页面",
    405: "不支持此请求方式",
    409: "与现有数据冲突",
    413: "提交的内容过大",
    415: "不支持的内容类型",
    422: "提交的内容有误",
    429: "请求过于频繁，请稍后再试",
    500: "系统内部错误，请稍后再试或联系管理员",
}


_MACHINE_PATHS = ("/api/", "/openapi.json", "/healthz", "/readyz", "/static/", "/docs/assets/")


def wants_html(request: Request) -> bool:
    """Pages answer with pages whatever the Accept header says; the API and machine endpoints with JSON."""
    return not request.url.path.startswith(_MACHINE_PATHS)


def _body_model(request: Request) -> type[BaseModel] | None:
    """The pydantic model of the route's JSON body, for titles along an error's location."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def status_for(exc: DomainError) -> int:
    for kind, code in STATUS.items():
        if isinstance(exc, kind):
            return code
    return 400


def _error_page(request: Request, status: int, message: str) -> Response:
    from app.web.templating import render

    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        status = status_for(exc)
        headers: dict[str, str] = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NotAuthenticated) and request.url.path.startswith("/api/"):
            headers["WWW-Authenticate"] = "Bearer"
        if wants_html(request):
            return _error_page(request, status, exc.message)
        body: dict[str, object] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        model = _body_model(request)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": chinese_message(e, model=model), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if wants_html(request):
            return _error_page(request, 422, "；".join(e["msg"] for e in errors))
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = (
            exc.detail
            if isinstance(exc.detail, str) and not exc.detail.isascii()
            else HTTP_MESSAGES.get(exc.status_code, "请求有误")
        )
        if wants_html(request):
            return _error_page(request, exc.status_code, message)
        return JSONResponse(
            {"detail": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_html(request):
            return _error_page(request, 500, HTTP_MESSAGES[500])
        return JSONResponse({"detail": HTTP_MESSAGES[500]}, status_code=500)
