"""Every workflow list page renders for each role that may see it; the others get 404."""

from __future__ import annotations

import pytest
from pagehelpers import client_as


@pytest.fixture
def as_user(app):
    def _as(username):
        return client_as(app, username)

    return _as


@pytest.mark.parametrize(
    "user,url,status",
    [
        ("unit_a", "/", 200),
        ("unit_a_head", "/", 200),
        ("reviewer", "/", 200),
        ("finance", "/", 200),
        ("sysadmin", "/", 200),
        ("unit_a", "/evaluations/", 200),
        ("reviewer", "/evaluations/", 200),
        ("finance", "/evaluations/", 200),
        ("sysadmin", "/evaluations/", 200),
        ("reviewer", "/review/", 200),
        ("finance", "/finance/", 200),
        ("unit_a", "/notices/", 200),
        ("unit_a", "/review/", 404),
        ("finance", "/review/", 404),
        ("sysadmin", "/review/", 404),
        ("reviewer", "/finance/", 404),
        ("unit_a", "/finance/", 404),
        ("sysadmin", "/finance/", 404),
    ],
)
def test_list_pages(as_user, user, url, status):
    resp = as_user(user).get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]


def test_anonymous_is_sent_to_login(client):
    for url in ("/", "/evaluations/", "/review/", "/finance/", "/notices/", "/evaluations/1"):
        resp = client.get(url)
        assert resp.status_code == 302
        assert "/login" in resp.headers["Location"]
