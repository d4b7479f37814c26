"""Day counts: one function decides the number and the words, for the page, the reminder
e-mail and its notice (issue 13: the page said 已逾期 1329 天, the e-mail 906 天 that were
working days, "906 工作日" without 个)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from pagehelpers import SEED, client_as, ev_id

from workflow.core.days import day_unit, days_left, days_text
from workflow.core.extensions import db
from workflow.evaluations import views
from workflow.models import Evaluation, ReminderClaim, User
from workflow.reminders.operations import build_reminder_mail


@pytest.mark.parametrize(
    ("left", "kind", "text"),
    [
        (3, "calendar", "还剩 3 天"),
        (3, "working", "还剩 3 个工作日"),
        (0, "working", "今天截止"),
        (-906, "working", "已逾期 906 个工作日"),
        (-1329, "calendar", "已逾期 1329 天"),
    ],
)
def test_words(left: int, kind: str, text: str) -> None:
    assert days_text(left, kind) == text
    assert day_unit(kind) in ("天", "个工作日")


def test_working_days_skip_the_national_day_holiday() -> None:
    assert days_left(date(2024, 9, 27), date(2024, 10, 8), "working") == 3
    assert days_left(date(2024, 9, 27), date(2024, 10, 8), "calendar") == 11


def test_page_and_mail_say_the_same(app) -> None:
    target = ev_id(app, SEED)  # unit A's draft: waits on the submit deadline
    deadline = date(2023, 3, 31)
    with app.app_context():
        evaluation = db.session.get(Evaluation, target)
        evaluation.cycle.day_kind = "working"
        evaluation.cycle.deadline_submit = deadline
        db.session.commit()
    expected = days_text(days_left(views.today(), deadline, "working"), "working")
    assert re.fullmatch(r"已逾期 \d+ 个工作日", expected)
    client = client_as(app, "unit_a")
    for url in ("/", "/evaluations/", f"/evaluations/{target}", f"/evaluations/{target}/edit"):
        page = client.get(url).get_data(as_text=True)
        assert expected in page, url
        assert re.search(r"已逾期 \d+ 天", page) is None, url  # no calendar count beside it
    with app.app_context():
        evaluation = db.session.get(Evaluation, target)
        user = db.session.scalar(db.select(User).where(User.username == "unit_a"))
        claim = ReminderClaim(
            evaluation_id=target, stage="submit", step="o", user_id=user.id, deadline=deadline
        )
        mail = build_reminder_mail(claim, user, evaluation, datetime.now(UTC))
    assert expected in mail.subject and expected in mail.text and expected in mail.html
