from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError


def password_length(_form: FlaskForm, field: Field) -> None:
    """The policy's minimum length next to the field; the other rules (classes, username,
    common passwords, history) are checked where the password is stored."""
    minimum = int(current_app.config.get("PASSWORD_MIN_LENGTH", 10))
    if field.data and len(field.data) < minimum:
        raise ValidationError(f"密码至少 {minimum} 个字符")


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField(
        "新密码",
        validators=[
            DataRequired("请输入新密码"),
            Length(max=200, message="新密码不能超过 200 个字符"),
            password_length,
        ],
    )
    confirm = PasswordField(
        "确认新密码",
        validators=[
            DataRequired("请再次输入新密码"),
            EqualTo("new", message="两次输入的新密码不一致"),
        ],
    )


class TotpForm(FlaskForm):
    code = StringField(
        "动态口令或恢复码",
        validators=[DataRequired("请输入动态口令"), Length(max=20, message="口令过长")],
    )
