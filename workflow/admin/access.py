"""Which administrators each administration page serves (三员分立), for the two blueprints
under /admin: `admin` (organisations, cycles, frameworks, form import, failed reminders) and
`accounts` (users, roles, resets, administrator requests).

The system administrator keeps organisations, cycles, frameworks and business users; the
security administrator roles, resets and locks; requests for a new administrator are made by
one and approved by another. Everyone else gets 404 (the page "does not exist" for them), so
the area does not even reveal itself; the audit administrator has the audit pages only.
"""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from workflow import policy
from workflow.admin.operations import AdminError
from workflow.machine import Role

SYS = frozenset({Role.SYSADMIN})
SEC = frozenset({Role.SECADMIN})
BOTH = frozenset({Role.SYSADMIN, Role.SECADMIN})
EXPIRED = "页面已过期，请刷新后重试"

# A page missing here is served to nobody.
ENDPOINT_ROLES: dict[str, frozenset[Role]] = {
    "admin.index": BOTH,
    "admin.orgs": SYS,
    "accounts.users": BOTH,  # the security administrator resets, changes roles; sees the list
    "accounts.disable_user": SYS,
    "accounts.enable_user": SYS,
    "accounts.reset_password": SEC,
    "accounts.unlock_user": SEC,
    "accounts.reset_totp": SEC,
    "accounts.change_role": SEC,
    "accounts.admins": BOTH,
    "accounts.approve_admin": BOTH,
    "accounts.reject_admin": BOTH,
    "admin.cycles": SYS,
    "admin.cycle_new": SYS,
    "admin.cycle_edit": SYS,
    "admin.schemes": SYS,
    "admin.import_form": SYS,
    "admin.reminders": SYS,
    "admin.resend_reminder": SYS,
    "admin.resend_all_reminders": SYS,
}


@login_required
def check_admin_page() -> None:
    """Both blueprints' before_request: 404 unless the page serves this administrator."""
    allowed = ENDPOINT_ROLES.get(request.endpoint or "", frozenset())
    if not policy.is_role(current_user, *allowed):
        abort(404)


def admin_may(endpoint: str) -> bool:
    """Whether the signed-in user may open this admin page (the tabs and buttons ask)."""
    return policy.is_role(current_user, *ENDPOINT_ROLES.get(endpoint, frozenset()))


def apply_error(form: FlaskForm, exc: AdminError) -> str | None:
    """Put the error next to its field; return it when it belongs to no field."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]  # type: ignore[attr-defined]
        return None
    return exc.message
