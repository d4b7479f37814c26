"""Celery settings, read from the environment (loaded by workflow.core.celery.init_celery).

Production points CELERY_BROKER_URL / CELERY_RESULT_BACKEND at Redis. Without them the
broker is kombu's filesystem transport (made atomic, workflow/core/broker.py) under the var
directory, so that `make run` needs
no server: its folders must exist before the first message, hence the mkdir below.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES

_PROJECT = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("JIXIAO_VAR", str(_PROJECT / "var"))).resolve()
_CELERY_DIR = VAR_DIR / "celery"
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# Every delay below stays under the visibility timeout: a Redis message that is not
# acknowledged within it is handed to another worker, so a longer task would run twice.
VISIBILITY_TIMEOUT = _int("CELERY_VISIBILITY_TIMEOUT", 3600)
TASK_TIME_LIMIT = _int("CELERY_TASK_TIME_LIMIT", 300)
TASK_SOFT_TIME_LIMIT = _int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
# Mail retries back off 30 s, 60 s, 120 s ... and never wait longer than this.
RETRY_BACKOFF_MAX = _int("CELERY_RETRY_BACKOFF_MAX", 900)
MAIL_MAX_RETRIES = _int("CELERY_MAIL_MAX_RETRIES", 6)
assert TASK_TIME_LIMIT < VISIBILITY_TIMEOUT, "task_time_limit must stay below visibility_timeout"
assert RETRY_BACKOFF_MAX < VISIBILITY_TIMEOUT, "retry delays must stay below visibility_timeout"

_fs_folders = {
    "data_folder_in": _CELERY_DIR / "queue",
    "data_folder_out": _CELERY_DIR / "queue",
    "processed_folder": _CELERY_DIR / "processed",
    "control_folder": _CELERY_DIR / "control",
}

# The embedded broker is kombu's filesystem transport with atomic writes and a reader that
# sets an undecodable message aside instead of dying (workflow/core/broker.py); any
# `filesystem://` URL means it.
TRANSPORT_ALIASES.setdefault("jixiaofs", "workflow.core.broker:AtomicFilesystemTransport")
broker_url = os.environ.get("CELERY_BROKER_URL", "jixiaofs://")
if broker_url.startswith("filesystem"):
    broker_url = "jixiaofs://" + broker_url.split("://", 1)[1]
if broker_url.startswith("jixiaofs"):
    for _folder in (*_fs_folders.values(), _CELERY_DIR / "results"):
        _folder.mkdir(parents=True, exist_ok=True)
    broker_transport_options: dict[str, object] = {
        **{key: str(path) for key, path in _fs_folders.items()},
        # With two workers on one folder and this off, a message was lost (environment.md).
        "store_processed": True,
        "polling_interval": 0.1,
    }
    result_backend = os.environ.get("CELERY_RESULT_BACKEND", f"file://{_CELERY_DIR / 'results'}")
else:
    broker_transport_options = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # How often a worker looks for messages a dead worker held (once their visibility
        # timeout passed): kombu's default scans only every ~100 s.
        "unacked_restore_interval": _int("CELERY_RESTORE_INTERVAL", 60),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
    result_backend = os.environ.get("CELERY_RESULT_BACKEND", broker_url)

if result_backend.startswith("redis"):
    result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT}
result_expires = timedelta(days=1)
broker_connection_retry_on_startup = True
# dispatch() runs inside a web request: with the broker down it must fail fast, not hang.
broker_connection_timeout = 2
task_publish_retry = False

# Separate queues: a burst of PDFs never delays a reminder or a notice.
task_default_queue = "default"
task_queues = (
    Queue("default", Exchange("default"), routing_key="default"),
    Queue("pdf", Exchange("pdf"), routing_key="pdf"),
    Queue("mail", Exchange("mail"), routing_key="mail"),
    # Bulk imports of published forms: minutes of work that must not hold up a PDF or a mail.
    Queue("bulk", Exchange("bulk"), routing_key="bulk"),
)
task_routes = {
    "workflow.tasks.pdf.*": {"queue": "pdf"},
    "workflow.tasks.mail.*": {"queue": "mail"},
    "workflow.tasks.reminders.*": {"queue": "mail"},
    "workflow.tasks.notify.*": {"queue": "mail"},
    "workflow.tasks.outbox.*": {"queue": "default"},
    "workflow.tasks.bulk.*": {"queue": "bulk"},
}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

# A task is acknowledged after it finished, and a child killed mid-task puts it back.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = TASK_TIME_LIMIT
task_soft_time_limit = TASK_SOFT_TIME_LIMIT
task_track_started = False
task_ignore_result = True
# WeasyPrint's memory grows slowly over renders: recycle children.
worker_max_tasks_per_child = _int("CELERY_MAX_TASKS_PER_CHILD", 100)
worker_max_memory_per_child = _int("CELERY_MAX_MEMORY_PER_CHILD_KB", 400_000)

beat_schedule_filename = str(VAR_DIR / "celerybeat-schedule")
beat_schedule = {
    "reminders-scan": {
        "task": "workflow.tasks.reminders.scan_reminders",
        # Every 15 minutes: a reminder is due on a day, the scan only has to see it that day.
        "schedule": crontab(minute="*/15"),
        "options": {"queue": "mail", "expires": 14 * 60},
    },
    "outbox-relay": {
        "task": "workflow.tasks.outbox.relay_outbox",
        "schedule": timedelta(seconds=_int("OUTBOX_RELAY_SECONDS", 30)),
        "options": {"queue": "default", "expires": 25},
    },
    # 整改 items: the owners of open items due soon or overdue, once a day at 08:30.
    "rectification-reminders": {
        "task": "workflow.tasks.rechecks.remind_rectifications",
        "schedule": crontab(hour=8, minute=30),
        "options": {"queue": "mail", "expires": 6 * 3600},
    },
}
