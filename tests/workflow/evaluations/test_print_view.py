"""The print view (打印): the PDF's layout served as a page, to everyone who may see the form
and to nobody else, with no inline script or style (the CSP allows none)."""

from __future__ import annotations

import re

import pytest
from pagehelpers import client_as, ev_id

IN_REVIEW = "12345热线知识库建设"  # unit B, department 1


@pytest.mark.parametrize("user", ["unit_b", "reviewer", "finance", "sysadmin"])
def test_print_view_for_those_who_see_the_form(app, user):
    target = ev_id(app, IN_REVIEW)
    resp = client_as(app, user).get(f"/evaluations/{target}/print")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "省级项目支出绩效自我评价表" in html and IN_REVIEW in html
    assert "评价要点及评分规则" in html and "偏差原因分析及改进措施" in html
    assert "填报单位（盖章）" in html
    assert "css/form-print.css" in html and "js/print.js" in html
    # Nothing the CSP would block: no style attribute or element, no inline script.
    assert not re.search(r"<style|\sstyle=", html)
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("user", ["unit_a", "reviewer_2", "auditor", "secadmin"])
def test_print_view_is_404_for_others(app, user):
    target = ev_id(app, IN_REVIEW)
    assert client_as(app, user).get(f"/evaluations/{target}/print").status_code == 404


def test_print_link_beside_the_pdf(app):
    target = ev_id(app, IN_REVIEW)
    detail = client_as(app, "unit_b").get(f"/evaluations/{target}").get_data(as_text=True)
    assert f'href="/evaluations/{target}/print" data-testid="print-link"' in detail
    review = client_as(app, "reviewer").get(f"/review/{target}").get_data(as_text=True)
    assert f"/evaluations/{target}/print" in review
