"""Contract of the mail port: the outbox is stored with the work, delivered after commit."""

from __future__ import annotations

import attrs

from aftersales.models import EmailState, OutgoingEmail

from ._kit import ContractBase, Kit
from .capabilities import Capability

__all__ = ["MailContract"]


def _email(kit: Kit, number: int) -> OutgoingEmail:
    return OutgoingEmail(
        id=f"mail-{number}",
        recipients=("ana@example.com", "marta@example.com"),
        subject=f"Your coupon {number}",
        text_body="Hello Ana,\nhere is your coupon.",
        html_body="<p>Hello Ana,</p><p>here is your coupon.</p>",
        created_at=kit.clock.now(),
        ticket_id="ticket-1",
    )


class MailContract(ContractBase):
    """``aftersales_mail_*``."""

    def test_outbox_oldest_first_and_pending_only(self, kit: Kit) -> None:
        emails = [_email(kit, n) for n in range(3)]

        def enqueue(h: object) -> None:
            for email in emails:
                kit.hooks.mail_enqueue(email)

        kit.write(enqueue)
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=False))) == emails
        sent = attrs.evolve(emails[0], state=EmailState.SENT, attempts=1, sent_at=kit.clock.now())
        failed = attrs.evolve(emails[1], state=EmailState.FAILED, attempts=1, last_error="SMTP 451")
        kit.write(lambda h: (h.mail_save(sent), h.mail_save(failed)))
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=True))) == [
            failed,
            emails[2],
        ]
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=False))) == [
            sent,
            failed,
            emails[2],
        ]

    def test_an_email_is_delivered_only_after_commit(self, kit: Kit) -> None:
        """RL-1: a rolled-back unit leaves no email; a committed one is delivered once."""
        kit.require(Capability.DELIVERED_LOG)
        with kit.unchanged(), kit.unit() as uow:
            uow.send(_email(kit, 1))
        assert kit.backend.delivered == []
        with kit.unit() as uow:
            uow.send(_email(kit, 2))
            uow.commit()
        delivered = kit.backend.delivered
        assert [e.id for e in delivered] == ["mail-2"]
        outbox = kit.read(lambda h: list(h.mail_list_outbox(pending_only=False)))
        assert [(e.id, e.state, e.attempts) for e in outbox] == [("mail-2", EmailState.SENT, 1)]
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=True))) == []
