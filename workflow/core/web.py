"""Web helpers for every page: the navigation shown in base.html, URLs built once per app
(evaluation_url, path_for, page_url), the row cache's template hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, request, url_for
from flask_bootstrap import Bootstrap5
from flask_login import current_user
from werkzeug.datastructures import iter_multi_items

from workflow.machine import Role

bootstrap = Bootstrap5()

U = frozenset({Role.UNIT_STAFF, Role.UNIT_HEAD})
# The security and audit administrators see no business data (三员分立): no links to it.
BUSINESS_AND_SYSADMIN = frozenset(Role) - {Role.SECADMIN, Role.AUDITOR}
# (endpoint, label, roles that see it; None = everyone logged in). An entry whose endpoint
# does not exist is not shown.
NAV: tuple[tuple[str, str, frozenset[Role] | None], ...] = (
    ("home.index", "首页", None),
    ("evaluations.index", "评价表", BUSINESS_AND_SYSADMIN),
    ("targets.index", "绩效目标", BUSINESS_AND_SYSADMIN),
    ("review.queue", "审核队列", frozenset({Role.REVIEWER})),
    ("finance.queue", "财政确认", frozenset({Role.FINANCE})),
    ("rechecks.index", "抽查复核", frozenset({Role.FINANCE, Role.EXPERT})),
    ("rechecks.rectifications", "整改", U | {Role.REVIEWER, Role.FINANCE}),
    ("dashboard.index", "统计分析", frozenset({Role.REVIEWER, Role.FINANCE, Role.SYSADMIN})),
    ("admin.index", "系统管理", frozenset({Role.SYSADMIN, Role.SECADMIN})),
    ("bulk.index", "批量导入", frozenset({Role.FINANCE, Role.SYSADMIN})),
    ("audit.index", "安全审计", frozenset({Role.AUDITOR})),
    ("workbooks.index", "Excel 填报", U | {Role.REVIEWER, Role.FINANCE}),
    ("notices.index", "消息", None),
)


# The nav item that carries the count of what waits for the role (待办), and the one that
# carries the unread notices.
WAITING_NAV: dict[Role, str] = {
    Role.UNIT_STAFF: "evaluations.index",
    Role.UNIT_HEAD: "evaluations.index",
    Role.REVIEWER: "review.queue",
    Role.FINANCE: "finance.queue",
}
UNREAD_NAV = "notices.index"

_PROBE_ID = 987654321


def _built(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """Something built from url_for (a URL, its parts, the header's links), once per app
    and key; every key holds the script root, which comes from the proxy: the store is
    bounded."""
    store: dict[tuple[Any, ...], Any] = current_app.extensions["built_urls"]
    try:
        return store[key]
    except KeyError:
        if len(store) > 512:
            store.clear()
        value = store[key] = build()
        return value


def _id_url_parts(endpoint: str) -> tuple[str, str]:
    head, _, tail = url_for(endpoint, evaluation_id=_PROBE_ID).partition(str(_PROBE_ID))
    return head, tail


def evaluation_url(endpoint: str, evaluation_id: int) -> str:
    """url_for(endpoint, evaluation_id=...) for list rows: built once per endpoint, then
    filled in (a 50-row list called url_for 100 times per page)."""
    head, tail = _built(("id", endpoint, request.script_root), lambda: _id_url_parts(endpoint))
    return f"{head}{int(evaluation_id)}{tail}"


def path_for(endpoint: str, filename: str | None = None) -> str:
    """url_for() for a URL with no variable part (a page, a static file): built once per
    script root. Every page's header and filter form asked url_for for the same five."""
    return _built(  # type: ignore[no-any-return]
        ("path", endpoint, filename, request.script_root),
        lambda: url_for(endpoint, filename=filename) if filename else url_for(endpoint),
    )


def page_url(endpoint: str, args: Mapping[str, Any], **override: Any) -> str:
    """url_for(endpoint, **args, **override) for a page whose path has no variable part (a
    list's pager links): the path from path_for, then the query string encoded as
    Werkzeug's own (tests/web/test_cells.py compares the two)."""
    items = [(k, v) for k, v in iter_multi_items({**args, **override}) if v is not None]
    path = path_for(endpoint)
    return f"{path}?{urlencode(items, safe=_QUERY_SAFE)}" if items else path


# The characters Werkzeug leaves unescaped in a query string (werkzeug.urls).
_QUERY_SAFE = "!$'()*,/:;?@"


def init_app(app: Flask) -> None:
    app.extensions["built_urls"] = {}
    app.jinja_env.globals["evaluation_url"] = evaluation_url
    app.jinja_env.globals["path_for"] = path_for
    app.jinja_env.globals["page_url"] = page_url
    from workflow.core import cells

    cells.init_app(app)

    bootstrap.init_app(app)

    # The header is the same on every page for a role: its links and the stylesheet and
    # script tags are built once per (role, page, script root), not by a dozen url_for calls
    # on every request.
    def _nav_items(role: Role) -> list[dict[str, object]]:
        counted = {WAITING_NAV.get(role): "waiting", UNREAD_NAV: "unread"}
        return [
            {
                "url": url_for(endpoint),
                "label": label,
                "active": request.endpoint == endpoint,
                "count": counted.get(endpoint),
            }
            for endpoint, label, roles in NAV
            if (roles is None or role in roles) and endpoint in app.view_functions
        ]

    @app.context_processor
    def _nav() -> dict[str, object]:
        root = request.script_root
        assets = _built(("assets", root), lambda: (bootstrap.load_css(), bootstrap.load_js()))
        items: object = []
        counts: dict[str, int] = {}
        if current_user.is_authenticated:
            role = Role(current_user.role)
            items = _built(("nav", role, request.endpoint, root), lambda: _nav_items(role))
            from workflow.home.queries import nav_counts

            counts = nav_counts(current_user)
        return {
            "nav_items": items,
            "nav_counts": counts,
            "bootstrap_css": assets[0],  # type: ignore[index]
            "bootstrap_js": assets[1],  # type: ignore[index]
        }
