"""Account forms: users, administrator requests, roles, password resets."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import (
    DataRequired,
    Length,
    Optional,
    Regexp,
)

from workflow.auth.forms import password_length

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    SelectChoice = None

from workflow.admin.forms import ChoiceField, options
from workflow.machine import ADMIN_ROLES, ROLE_LABELS, Role


class UserForm(FlaskForm):
    username = StringField(
        "用户名",
        validators=[
            DataRequired("请填写用户名"),
            Length(min=2, max=64, message="用户名应为 2–64 个字符"),
        ],
    )
    name = StringField(
        "姓名",
        validators=[DataRequired("请填写姓名"), Length(max=100, message="姓名不能超过 100 个字符")],
    )
    email = StringField(
        "电子邮箱",
        validators=[
            Optional(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="电子邮箱格式不正确"),
            Length(max=200),
        ],
    )
    # Business roles only: administrators are requested and approved (AdminRequestForm).
    role = ChoiceField(
        "角色",
        choices=options((r.value, ROLE_LABELS[r]) for r in Role if r not in ADMIN_ROLES),
        default=Role.UNIT_STAFF.value,
    )
    org_id = ChoiceField("所属机构", coerce=int)
    password = PasswordField(
        "初始密码",
        validators=[
            DataRequired("请填写初始密码"),
            Length(max=200, message="密码不能超过 200 个字符"),
            password_length,
        ],
    )


class AdminRequestForm(FlaskForm):
    """A request for an administrator account (a second administrator approves)."""

    username = StringField(
        "用户名",
        validators=[
            DataRequired("请填写用户名"),
            Length(max=64, message="用户名不能超过 64 个字符"),
        ],
    )
    name = StringField(
        "姓名",
        validators=[DataRequired("请填写姓名"), Length(max=100, message="姓名不能超过 100 个字符")],
    )
    role = ChoiceField("管理员角色")
    org_id = ChoiceField("所属机构", coerce=int)


class RoleForm(FlaskForm):
    role = ChoiceField(
        "角色", choices=options((r.value, ROLE_LABELS[r]) for r in Role if r not in ADMIN_ROLES)
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "新密码（留空则随机生成）",
        validators=[
            Optional(),
            Length(max=200, message="密码不能超过 200 个字符"),
            password_length,
        ],
    )
