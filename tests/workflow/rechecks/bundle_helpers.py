"""The public bundle as the pages and the worker make it: asked for, built by calling the
worker's task in this process, downloaded."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from workflow.core.extensions import db
from workflow.models import OutboxMessage, PublicBundle


def cycle_id(app: Flask) -> int:
    from workflow.models import RecheckBatch

    with app.app_context():
        return int(db.session.scalar(select(RecheckBatch.cycle_id)))


def request(client: FlaskClient, cycle: int) -> TestResponse:
    return client.post("/rechecks/public-bundle", data={"cycle": str(cycle)})


def pending(app: Flask) -> list[tuple[int, int]]:
    """(bundle id, outbox id) of every open public_bundle outbox row."""
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "public_bundle", OutboxMessage.done_at.is_(None)
            )
        ).all()
        return [(int(m.payload["bundle_id"]), m.id) for m in rows]


def run_task(app: Flask, bundle_id: int, outbox_id: int | None) -> int:
    from workflow.rechecks.tasks import build_public_bundle

    with app.app_context():
        return int(build_public_bundle.run(bundle_id, outbox_id=outbox_id))


def build_by_worker(app: Flask, client: FlaskClient) -> TestResponse:
    """Ask for the bundle of the demo cycle, run the worker's task, download the file."""
    assert request(client, cycle_id(app)).status_code == 302
    for bundle_id, outbox_id in pending(app):
        run_task(app, bundle_id, outbox_id)
    with app.app_context():
        found = db.session.scalars(select(PublicBundle).order_by(PublicBundle.id.desc())).first()
        assert found is not None and found.state == "ready", found and found.error
        bundle_id = found.id
    return client.get(f"/rechecks/public-bundle/{bundle_id}/download")


def more_confirmed(app: Flask, count: int = 2) -> None:
    """Mark a few more submitted evaluations confirmed (the demo has one), with their self
    scores as the final ones: the bundle only reads them."""
    from sqlalchemy import update

    from workflow.models import Evaluation

    with app.app_context():
        ids = db.session.scalars(
            select(Evaluation.id)
            .where(Evaluation.state.in_(("dept_review", "finance_confirmation", "self_scored")))
            .order_by(Evaluation.id)
            .limit(count)
        ).all()
        db.session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(ids))
            .values(
                state="confirmed",
                final_total=Evaluation.self_total,
                final_grade=Evaluation.self_grade,
            )
        )
        db.session.commit()
