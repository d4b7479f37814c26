"""The home page per role, and the notices list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pagehelpers import SEED, client_as

from workflow.core.extensions import db
from workflow.models import Cycle, Notice, User


@pytest.fixture
def as_user(app):
    def _as(username):
        return client_as(app, username)

    return _as


def _user_id(app, username):
    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


@pytest.mark.parametrize(
    "user,expected,absent",
    [
        ("unit_a", SEED, "12345热线知识库建设"),
        ("reviewer", "12345热线知识库建设", SEED),
        ("finance", "政务服务事项标准化", "12345热线知识库建设"),
    ],
)
def test_home_shows_what_waits(as_user, user, expected, absent):
    body = as_user(user).get("/").get_data(as_text=True)
    assert 'data-testid="waiting"' in body
    assert expected in body and absent not in body


def test_home_deadlines_with_days_left_and_overdue(app, as_user):
    with app.app_context():
        cycle = db.session.query(Cycle).first()
        cycle.deadline_submit = date.today() - timedelta(days=3)
        cycle.deadline_review = date.today() + timedelta(days=30)
        db.session.commit()
    body = as_user("unit_a").get("/").get_data(as_text=True)
    assert '<span class="overdue">已逾期' in body
    assert "剩 " in body


def test_notices_list_and_mark_read(app, as_user):
    uid = _user_id(app, "unit_a")
    other = _user_id(app, "unit_b")
    with app.app_context():
        mine = Notice(user_id=uid, kind="return", title="评价表被退回<b>", body="请补充材料")
        theirs = Notice(user_id=other, kind="return", title="别人的消息")
        db.session.add_all([mine, theirs])
        db.session.commit()
        mine_id, theirs_id = mine.id, theirs.id
    client = as_user("unit_a")
    body = client.get("/notices/").get_data(as_text=True)
    assert "评价表被退回&lt;b&gt;" in body and "别人的消息" not in body and "未读" in body
    assert "未读消息（" in client.get("/").get_data(as_text=True)
    assert client.post(f"/notices/{theirs_id}/read").status_code == 404
    assert client.post(f"/notices/{mine_id}/read").status_code == 302
    with app.app_context():
        assert db.session.get(Notice, mine_id).read_at is not None
        assert db.session.get(Notice, theirs_id).read_at is None
    body = client.get("/notices/", query_string={"unread": "1"}).get_data(as_text=True)
    assert "评价表被退回" not in body


def test_read_all_touches_only_own_notices(app, as_user):
    uid = _user_id(app, "unit_a")
    other = _user_id(app, "unit_b")
    with app.app_context():
        db.session.add_all(
            [Notice(user_id=uid, kind="x", title="一"), Notice(user_id=other, kind="x", title="二")]
        )
        db.session.commit()
    assert as_user("unit_a").post("/notices/read-all").status_code == 302
    with app.app_context():
        assert db.session.query(Notice).filter_by(user_id=uid, read_at=None).count() == 0
        assert db.session.query(Notice).filter_by(user_id=other, read_at=None).count() >= 1
