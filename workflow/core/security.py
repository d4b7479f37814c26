"""Security headers on every response, and the error pages."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest, HTTPException, SecurityError
from werkzeug.wrappers import Response

from workflow.core.inputs import FORBIDDEN_MESSAGE, has_forbidden_chars

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持的操作",
    409: "已被他人处理",
    413: "上传的文件过大",
    422: "内容有误",
    429: "操作过于频繁",
    500: "系统出错",
}


# Endpoints whose responses may be cached: the app's own CSS, scripts and fonts.
_CACHEABLE = frozenset({"static", "bootstrap.static"})


class ForbiddenCharacters(BadRequest):
    description = FORBIDDEN_MESSAGE


def _refuse_control_characters() -> None:
    """One place for every submitted text: the path, the query, the form fields and the
    names of uploaded files (the JSON bodies of this app are none)."""
    values: list[str] = [request.path]
    for source in (request.args, request.form):
        for key, items in source.lists():
            values.append(key)
            values.extend(items)
    values.extend(f.filename or "" for f in request.files.values())
    if any(has_forbidden_chars(v) for v in values):
        raise ForbiddenCharacters()


def init_app(app: Flask) -> None:
    # First of the before_request functions that read the form (CSRF's comes later).
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_control_characters)

    @app.after_request
    def _no_store(response: Response) -> Response:
        # A signed-in page or any download must not stay in a shared or browser cache.
        if request.endpoint not in _CACHEABLE and (
            current_user.is_authenticated or "Content-Disposition" in response.headers
        ):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[str, int] | Response:
        if isinstance(exc, SecurityError):
            # An untrusted Host header (TRUSTED_HOSTS): no URL can be built for it, so no page.
            return Response("请求的主机名不受信任。", 400, content_type="text/plain; charset=utf-8")
        code = exc.code or 500
        title = ERROR_TITLES.get(code, "出错了")
        message = {
            413: f"文件不能超过 {app.config['MAX_CONTENT_LENGTH'] // (1024 * 1024)} MB，请压缩后重新上传。",
            404: "您要找的页面不存在，或您无权查看。",
            429: "操作过于频繁，请稍后再试。",
            400: "请求无效或页面已过期，请刷新后重试。",
        }.get(code, exc.description or "")
        if isinstance(exc, ForbiddenCharacters):
            message = FORBIDDEN_MESSAGE
        return render_template("error.html", code=code, title=title, message=message), code
