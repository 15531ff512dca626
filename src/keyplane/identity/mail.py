"""Outgoing mail through a pluggable sender: SMTP when configured, else a file outbox.

The outbox (``<data dir>/outbox/``) holds one ``.eml`` file per message, mode 0600
since invitations carry a secret link; ``make run`` points to it, so a local setup
needs no mail server.
"""

from __future__ import annotations

import os
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from keyplane.config import Settings
from keyplane.domain.errors import DomainError
from keyplane.domain.ids import new_id


class MailNotSent(DomainError):
    """A message that had to go out could not: the change it announces was kept."""

    status_code = 503


class MailSender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class FileOutbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{new_id()}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(bytes(message))


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message)


def mail_sender(settings: Settings) -> MailSender:
    if settings.smtp_host:
        return SmtpSender(settings)
    return FileOutbox(settings.data_dir / "outbox")


def compose(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    # One line: a name stored before names were (org names go into subjects) may hold
    # a line break, which would make the message unbuildable and stop the whole run.
    message["Subject"] = " ".join(subject.split())
    message.set_content(body)
    return message
