"""Sending e-mail (Chinese text + HTML) over SMTP with the MAIL_* settings.

Kept free of Celery: the task in workflow.reminders.tasks decides about retries, this module
only builds and sends one message and raises MailError when the server refuses or is away.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from flask import current_app

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server (worth retrying)."""


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None


def render_mail(template: str, subject: str, **context: object) -> Mail:
    """`template` names email/<template>.txt and .html; the HTML one autoescapes user text."""
    to = context.pop("to", ())
    assert isinstance(to, tuple | list)
    # Without the app's context processors (no request, no logged-in user in a worker).
    env = current_app.jinja_env
    text = env.get_template(f"email/{template}.txt").render(**context)
    html = env.get_template(f"email/{template}.html").render(**context)
    return Mail(to=tuple(str(t) for t in to), subject=subject, text=text, html=html)


def _sender() -> str:
    name, address = parseaddr(str(current_app.config.get("MAIL_DEFAULT_SENDER") or ""))
    if not address:
        address = "noreply@localhost"
    return formataddr((name, address)) if name else address


def build_message(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = _sender()
    message["To"] = ", ".join(mail.to)
    domain = parseaddr(_sender())[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text, charset="utf-8")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


def valid_address(value: str | None) -> bool:
    if not value or "@" not in value:
        return False
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return True


def send_mail(mail: Mail) -> None:
    """Hand one message to the SMTP server; raise MailError if that fails."""
    config = current_app.config
    if config.get("MAIL_SUPPRESS_SEND"):
        log.info("mail suppressed (MAIL_SUPPRESS_SEND): %s -> %s", mail.subject, mail.to)
        return
    message = build_message(mail)
    try:
        with smtplib.SMTP(
            str(config.get("MAIL_SERVER", "127.0.0.1")),
            int(config.get("MAIL_PORT", 25)),
            timeout=float(config.get("MAIL_TIMEOUT", 15)),
        ) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(str(config["MAIL_USERNAME"]), str(config.get("MAIL_PASSWORD", "")))
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
