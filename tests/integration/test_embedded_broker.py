"""The embedded set-up of `make run` survives: kombu's filesystem transport with atomic
writes (workflow/core/broker.py), SQLite, a PDF worker and a mail worker as in the Procfile.

- kombu's own transport hands a reader a half-written message (shown), ours never does;
- a worker that meets a corrupt message file sets it aside, logs it and goes on;
- the race test (100 pairs) and mixed load on the real embedded set-up: no notice lost, no
  notice twice, every outbox row done, both workers alive.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from flask import Flask
from kombu import Connection
from kombu.transport import filesystem
from task_live_helpers import ROOT, VENV_BIN, wait_for

from workflow import create_app
from workflow.core.broker import AtomicFilesystemTransport
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, Notice, OutboxMessage, Project, User

pytestmark = pytest.mark.integration

# Mixed load lasts this long (seconds): the minute issue 15 asks for. With kombu's own
# transport a reader met a half-written file within the first seconds at these rates (a
# few hundred broker messages, each polled by two workers every 0.1 s), and the
# deterministic test below covers that exact window; JIXIAO_LOAD_SECONDS=20 shortens it
# for a quick local run.
LOAD_SECONDS = float(os.environ.get("JIXIAO_LOAD_SECONDS", "60"))


def folders(root: Path) -> dict[str, str]:
    celery_dir = root / "celery"
    paths = {
        "data_folder_in": celery_dir / "queue",
        "data_folder_out": celery_dir / "queue",
        "processed_folder": celery_dir / "processed",
        "control_folder": celery_dir / "control",
    }
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return {key: str(path) for key, path in paths.items()}


def channel(transport: Any, root: Path) -> Any:
    options = {**folders(root), "store_processed": True}
    conn = Connection("filesystem://", transport=transport, transport_options=options)
    return conn, conn.default_channel


# --------------------------------------------------------------------------- the transport


def test_kombus_own_transport_hands_out_a_half_written_message(tmp_path: Path) -> None:
    """Why the subclass exists: while kombu's writer is half-way, its reader takes the file."""
    conn, chan = channel(filesystem.Transport, tmp_path)
    seen: list[BaseException] = []
    real_write = filesystem.Channel._put

    def slow_put(self: Any, queue: str, payload: Any, **kwargs: Any) -> None:
        name = Path(self.data_folder_out) / f"1_{uuid.uuid4()}.{queue}.msg"
        with open(name, "wb") as handle:
            handle.write(b'{"body": "half')  # the writer is here when the reader polls
            handle.flush()
            try:
                self._get(queue)
            except Exception as exc:  # what killed the embedded worker of issue 15
                seen.append(exc)

    try:
        filesystem.Channel._put = slow_put  # type: ignore[method-assign]
        chan._put("mail", {"body": "x"})
    finally:
        filesystem.Channel._put = real_write  # type: ignore[method-assign]
        conn.release()
    assert seen and isinstance(seen[0], json.JSONDecodeError)


def test_atomic_transport_reader_never_sees_a_partial_message(tmp_path: Path) -> None:
    conn, chan = channel(AtomicFilesystemTransport, tmp_path)
    polled: list[str] = []
    real_fsync = os.fsync

    def fsync_and_poll(fd: int) -> None:
        # The message is fully written but not yet renamed: the reader must see nothing.
        try:
            chan._get("mail")
            polled.append("got a message")
        except Empty:
            polled.append("empty")
        real_fsync(fd)

    try:
        os.fsync = fsync_and_poll  # type: ignore[assignment]
        chan._put("mail", {"body": "x" * 100_000, "properties": {}})
    finally:
        os.fsync = real_fsync  # type: ignore[assignment]
    assert polled == ["empty"]
    assert chan._get("mail")["body"] == "x" * 100_000
    conn.release()


def test_atomic_transport_sets_a_corrupt_message_aside_and_goes_on(tmp_path: Path) -> None:
    conn, chan = channel(AtomicFilesystemTransport, tmp_path)
    queue_dir = Path(folders(tmp_path)["data_folder_in"])
    (queue_dir / f"1_{uuid.uuid4()}.mail.msg").write_bytes(b'{"body": "trunc')
    (queue_dir / f"2_{uuid.uuid4()}.mail.msg").write_bytes(b'["not", "a", "message"]')
    chan._put("mail", {"body": "good", "properties": {}})
    assert chan._get("mail")["body"] == "good"
    with pytest.raises(Empty):
        chan._get("mail")
    bad = sorted((Path(folders(tmp_path)["processed_folder"]) / "bad").iterdir())
    assert len(bad) == 2
    conn.release()


# --------------------------------------------------------------------------- the set-up


class Embedded:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.var = tmp / "var"
        self.var.mkdir()
        self.options = folders(self.var)
        self.db_url = f"sqlite:///{self.var / 'jixiao.sqlite3'}"
        self.env = dict(os.environ)
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DATABASE_URL", "MAIL_SERVER"):
            self.env.pop(name, None)
        self.env.update(
            {
                "PATH": f"{VENV_BIN}:{self.env.get('PATH', '')}",
                "PYTHONPATH": str(ROOT),
                "JIXIAO_VAR": str(self.var),
                "DATABASE_URL": self.db_url,
                "SECRET_KEY": "embedded-secret-key-0123456789abcdef",
                "OUTBOX_DISPATCH": "1",
                "MAIL_SUPPRESS_SEND": "1",
            }
        )
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": self.db_url,
                "VAR_DIR": str(self.var),
                "PDF_DIR": str(self.var / "pdf"),
                "OUTBOX_DISPATCH": True,
                "MAIL_SUPPRESS_SEND": True,
                "SECRET_KEY": self.env["SECRET_KEY"],
                "CELERY": {
                    "broker_url": "jixiaofs://",
                    "broker_transport_options": {
                        **self.options,
                        "store_processed": True,
                        "polling_interval": 0.1,
                    },
                    "result_backend": None,
                },
            }
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """A worker exactly as the Procfile starts it."""
        log_path = self.tmp / f"{name}.log"
        process = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "wsgi.celery", "worker", *args, "--loglevel", "INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=open(log_path, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((process, log_path))
        wait_for(lambda: b"ready." in log_path.read_bytes() or process.poll() is not None, 60)
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        return process

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait(5)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    setup = Embedded(tmp_path)
    with setup.app.app_context():
        db.create_all()
    yield setup
    setup.stop()
    with setup.app.app_context():
        db.session.remove()
        db.engine.dispose()


def copies(app: Flask, base_id: int, n: int, state: str) -> list[int]:
    """n evaluations of the seed form, each its own project, made as `flask demo` makes them."""
    from targets_world import approve_targets

    from scoring.schemes import scheme_from_dict
    from workflow.admin.cli import seed_entries
    from workflow.evaluations.operations import create_evaluation
    from workflow.models import Cycle

    with app.app_context():
        base = db.session.get(Evaluation, base_id)
        cycle = db.session.get(Cycle, base.cycle_id)
        entries = seed_entries(scheme_from_dict(base.scheme))[0]
        made = []
        for i in range(n):
            project = Project(unit_id=base.unit_id, name=f"项目 {state} {i + 1}", summary="概况")
            db.session.add(project)
            db.session.flush()
            approve_targets(project, cycle)  # a self-evaluation starts from approved targets
            evaluation = create_evaluation(project, cycle, entries)
            evaluation.state = state
            made.append(evaluation)
        db.session.commit()
        return [e.id for e in made]


def test_embedded_setup_under_race_and_mixed_load(embedded: Embedded) -> None:
    from task_world import build_world

    from workflow.core.outbox import relay
    from workflow.evaluations import operations
    from workflow.evaluations.operations import Conflict, OperationError

    app = embedded.app
    with app.app_context():
        w = build_world(state="draft")
        staff_id, head_id, reviewer_id = w.staff.id, w.head.id, w.reviewer.id
        base_id = w.evaluation.id
    reviews = copies(app, base_id, 100, "dept_review")
    drafts = copies(app, base_id, 4, "draft")
    pdf_worker = embedded.start("pdf", "--pool", "solo", "--queues", "pdf", "--hostname", "pdf@%h")
    mail_worker = embedded.start(
        "mail", "--pool", "threads", "--concurrency", "4", "--queues", "mail,default",
        "--hostname", "mail@%h",
    )  # fmt: skip
    queue_dir = Path(embedded.options["data_folder_in"])
    # A message damaged on disk, waiting before everything else on the mail queue.
    (queue_dir / f"0_{uuid.uuid4()}.mail.msg").write_bytes(b'{"body": "eyJ0YXNrIjog')

    # --- the race: 100 pairs, each two reviewers' sessions returning the same evaluation
    outcomes: list[str] = []
    lock = threading.Lock()

    def press(evaluation_id: int, barrier: threading.Barrier) -> None:
        with app.app_context():
            reviewer = db.session.get(User, reviewer_id)
            db.session.rollback()
            barrier.wait()
            try:
                operations.fire(reviewer, evaluation_id, "return", reason="请补充佐证材料")
                outcome = "won"
            except (Conflict, OperationError):
                outcome = "lost"
            finally:
                db.session.remove()
        with lock:
            outcomes.append(outcome)

    for start in range(0, len(reviews), 10):
        threads = []
        for evaluation_id in reviews[start : start + 10]:
            barrier = threading.Barrier(2)
            threads += [
                threading.Thread(target=press, args=(evaluation_id, barrier)) for _ in range(2)
            ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes.count("won") == 100 and outcomes.count("lost") == 100

    # --- mixed load: submits and withdraws, notice pages, now and then a corrupt message
    client = app.test_client()
    submits = 0
    corrupt = 1
    ends = time.monotonic() + LOAD_SECONDS
    rng = random.Random(15)
    while time.monotonic() < ends:
        with app.app_context():
            actor = db.session.get(User, rng.choice((staff_id, head_id)))
            evaluation_id = rng.choice(drafts)
            state = db.session.get(Evaluation, evaluation_id).state
            db.session.rollback()
            operations.fire(actor, evaluation_id, "submit" if state == "draft" else "withdraw")
            submits += state == "draft"
            db.session.remove()
        assert client.get("/login").status_code == 200
        # About two state changes a second: each submit is a PDF, and the one solo PDF
        # worker renders about two a second on these machines.
        time.sleep(0.4)
        if rng.random() < 0.05:
            (queue_dir / f"{int(time.monotonic() * 1000)}_{uuid.uuid4()}.mail.msg").write_bytes(
                b"\x00garbage"
            )
            corrupt += 1

    def all_done() -> bool:
        with app.app_context():
            relay()  # what beat does every 30 s
            open_rows = (
                db.session.query(OutboxMessage).filter(OutboxMessage.done_at.is_(None)).count()
            )
            db.session.remove()
        return open_rows == 0

    wait_for(all_done, timeout=180, interval=1)
    with app.app_context():
        returns = db.session.query(AuditLog).filter_by(event="return").count()
        assert returns == 100
        # Each return tells the unit's two users, each submit the department's reviewer:
        # exactly once each, none lost.
        unit_notices = db.session.query(Notice).filter_by(kind="return").count()
        assert unit_notices == 2 * returns
        reviewer_notices = db.session.query(Notice).filter_by(kind="submit").count()
        assert reviewer_notices == submits
        assert db.session.query(OutboxMessage).filter_by(kind="notify").count() == 100 + submits
    assert pdf_worker.poll() is None and mail_worker.poll() is None, "a worker died"
    bad = Path(embedded.options["processed_folder"]) / "bad"
    wait_for(lambda: bad.is_dir() and len(list(bad.iterdir())) == corrupt, timeout=30)
    mail_log = (embedded.tmp / "mail.log").read_text(errors="replace")
    assert "无法解析的消息" in mail_log and "Unrecoverable error" not in mail_log
    print(f"{submits} submits in {LOAD_SECONDS:.0f} s of mixed load, {corrupt} corrupt files")
