"""Security headers on every response, and the error pages."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

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


def init_app(app: Flask) -> None:
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
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        title = ERROR_TITLES.get(code, "出错了")
        message = {
            413: f"文件不能超过 {app.config['MAX_CONTENT_LENGTH'] // (1024 * 1024)} MB，请压缩后重新上传。",
            404: "您要找的页面不存在，或您无权查看。",
            429: "操作过于频繁，请稍后再试。",
            400: "请求无效或页面已过期，请刷新后重试。",
        }.get(code, exc.description or "")
        return render_template("error.html", code=code, title=title, message=message), code
