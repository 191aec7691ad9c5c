"""Invitation emails over SMTP; without SMTP configured the link is logged instead."""

import asyncio
import smtplib
from email.message import EmailMessage

import structlog

from amigo_api.settings import Settings

log = structlog.get_logger(__name__)


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


async def send_invitation(settings: Settings, *, to: str, first_name: str, org_name: str, link: str) -> None:
    if settings.smtp_host is None:
        log.info("invitation_link", email=to, link=link, note="SMTP is not configured; the email was not sent")
        return
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = to
    message["Subject"] = f"You are invited to {org_name} on Amigo"
    message.set_content(f"Hello {first_name},\n\nYou have been invited to {org_name}. "
                        f"Start here:\n\n{link}\n")
    await asyncio.to_thread(_send, settings, message)
