"""A form people fill over several days: autosave (the same draft save as 保存草稿, as JSON),
every field named for its indicator, the header's counts."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from pagehelpers import SEED, client_as, ev_id, form_values, version
from sqlalchemy import func, select

from workflow.core.extensions import db
from workflow.models import Evaluation, Notice, User


@pytest.fixture
def seed(app):
    return ev_id(app, SEED)


def _values(client, seed):
    return form_values(client.get(f"/evaluations/{seed}/edit").get_data(as_text=True))


def test_autosave_saves_what_was_typed_valid_or_not(app, seed):
    client = client_as(app, "unit_a")
    values = _values(client, seed)
    values["e-quantity_1-score"] = "abc"
    values["measures"] = "自动保存的整改措施"
    before = version(app, seed)
    resp = client.post(f"/evaluations/{seed}/autosave", data=values)
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["version"] == before + 1 == version(app, seed)
    assert data["problems"] == 1
    assert re.fullmatch(r"\d\d:\d\d", data["saved_at"])
    with app.app_context():
        ev = db.session.get(Evaluation, seed)
        assert ev.entries["quantity_1"]["score"] == "abc"
        assert ev.measures == "自动保存的整改措施"
    # The stale page's next autosave is a conflict, not an overwrite.
    resp = client.post(f"/evaluations/{seed}/autosave", data=values)
    assert resp.status_code == 409
    assert "已被他人处理" in resp.get_json()["error"]
    values["version"] = str(data["version"])
    assert client.post(f"/evaluations/{seed}/autosave", data=values).status_code == 200


@pytest.mark.parametrize(
    ("username", "status"), [("unit_b", 404), ("reviewer_2", 404), ("reviewer", 403)]
)
def test_autosave_refuses_others(app, seed, username, status):
    values = _values(client_as(app, "unit_a"), seed)
    before = version(app, seed)
    resp = client_as(app, username).post(f"/evaluations/{seed}/autosave", data=values)
    assert resp.status_code == status
    assert "error" in resp.get_json()
    assert version(app, seed) == before


def test_autosave_without_a_session_goes_to_login_and_saves_nothing(app, seed):
    values = _values(client_as(app, "unit_a"), seed)
    before = version(app, seed)
    resp = app.test_client().post(f"/evaluations/{seed}/autosave", data=values)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert version(app, seed) == before


def test_every_field_has_its_own_accessible_name(app, seed):
    html = client_as(app, "unit_a").get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    labels = {
        m.group(1): re.sub(r"<[^>]+>", "", m.group(2))
        for m in re.finditer(r'<label[^>]*for="([^"]+)"[^>]*>(.*?)</label>', html, re.S)
    }
    fields = re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="(e-[^"]+)"[^>]*>', html)
    ids = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="(e-[^"]+)"', html)
    assert len(fields) > 60 and sorted(fields) == sorted(ids)  # every field has its id
    names = Counter(labels[i] for i in ids)
    assert all(i in labels for i in ids), [i for i in ids if i not in labels]
    assert max(names.values()) == 1, names.most_common(3)
    score_label = labels["e-budget_execution_rate-score"]
    assert "得分" in score_label and "预算执行率" in score_label
    # The score box sits in the 得分 column with a visible label.
    cell = re.search(r'<td class="col-score" data-label="得分">(.*?)</td>', html, re.S)
    assert cell and 'for="e-' in cell.group(1) and 'name="e-' in cell.group(1)


def test_checklist_points_are_readable_without_hovering(app, seed):
    html = client_as(app, "unit_a").get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    points = re.findall(r'<details class="point-text[^>]*>\s*<summary>要点(\d+)</summary>', html)
    assert len(points) >= 10
    assert 'title="' not in html.split('data-testid="form-table"')[1].split("</table>")[0]


def _count(html, key):
    m = re.search(rf'data-testid="nav-count-{key}">(\d+)<', html)
    return int(m.group(1)) if m else 0


def test_nav_counts_what_waits_and_the_unread_notices(app):
    with app.app_context():
        drafts_a = db.session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .join(User, User.org_id == Evaluation.unit_id)
            .where(User.username == "unit_a", Evaluation.state == "draft")
        )
        unread = db.session.scalar(
            select(func.count())
            .select_from(Notice)
            .join(User, User.id == Notice.user_id)
            .where(User.username == "finance", Notice.read_at.is_(None))
        )
        waiting_fin = db.session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .where(Evaluation.state == "finance_confirmation")
        )
        waiting_rev = db.session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .join(User, User.org_id == Evaluation.department_id)
            .where(
                User.username == "reviewer",
                Evaluation.state.in_(("self_scored", "dept_review")),
            )
        )
    assert drafts_a and waiting_fin and waiting_rev
    home = client_as(app, "unit_a").get("/").get_data(as_text=True)
    assert _count(home, "waiting") == drafts_a
    assert "件待办" in home
    page = client_as(app, "finance").get("/").get_data(as_text=True)
    assert _count(page, "waiting") == waiting_fin
    assert _count(page, "unread") == unread
    page = client_as(app, "reviewer").get("/").get_data(as_text=True)
    assert _count(page, "waiting") == waiting_rev
    page = client_as(app, "secadmin").get("/").get_data(as_text=True)
    assert _count(page, "waiting") == 0


def test_nav_has_a_skip_link_and_a_collapsing_menu(app):
    html = client_as(app, "unit_a").get("/").get_data(as_text=True)
    assert 'href="#main">跳到主要内容</a>' in html
    assert '<main id="main"' in html
    assert 'data-bs-toggle="collapse" data-bs-target="#main-nav"' in html
    assert 'class="collapse navbar-collapse" id="main-nav"' in html
