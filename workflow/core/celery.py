"""Celery, bound to the Flask application.

`init_celery(app)` builds the Celery app from `celeryconfig`, with a Task class that runs
every task inside the Flask application context, and keeps it at app.extensions["celery"]
(wsgi.py exposes it for `celery -A wsgi`). The task modules use `shared_task`, so they bind
to whichever Celery app is current.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, signals
from flask import Flask

log = logging.getLogger(__name__)

# Every module holding tasks: each feature's tasks.py and the outbox relay. The registered
# names stay "workflow.tasks.<old module>.<task>" so that queued messages and the routes in
# celeryconfig keep working.
TASK_MODULES = (
    "workflow.documents.tasks",
    "workflow.reminders.tasks",
    "workflow.core.outbox",
    "workflow.notices.tasks",
    "workflow.bulk.tasks",
    "workflow.rechecks.tasks",
    "workflow.workbooks.tasks",
)


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.import_name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    overrides = app.config.get("CELERY")
    if overrides:
        celery_app.conf.update(overrides)
    celery_app.set_default()
    for module in TASK_MODULES:
        __import__(module)
    celery_app.flask_app = app  # type: ignore[attr-defined]
    app.extensions["celery"] = celery_app
    _connect_worker_check()
    return celery_app


_checked = False


def _connect_worker_check() -> None:
    global _checked
    if _checked:
        return
    _checked = True
    signals.worker_init.connect(_refuse_without_prerequisites, weak=False)


def _refuse_without_prerequisites(**_: Any) -> None:
    """A worker without a CJK font or HarfBuzz subsetting would write PDFs of empty boxes,
    or take ten times longer, without any error: it refuses to start instead."""
    from workflow.documents.render import PdfPrerequisiteError, check_pdf_prerequisites

    try:
        found = check_pdf_prerequisites()
    except PdfPrerequisiteError as exc:
        log.critical("工作进程拒绝启动：%s", exc)
        raise SystemExit(f"worker refuses to start: {exc}") from exc
    log.warning("PDF prerequisites OK: CJK font %s, HarfBuzz subsetting available", found)
