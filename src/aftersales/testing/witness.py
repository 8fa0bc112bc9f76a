"""A plugin that records what leaves the library after a commit: events and emails."""

from __future__ import annotations

from collections.abc import Generator

from aftersales.hookspecs import hookimpl
from aftersales.models import (
    DeliveryReport,
    DocumentChanged,
    DocumentCreated,
    EmailDelivery,
    Event,
    OutgoingEmail,
    ServicesConfigured,
    SubscriptionChanged,
)

__all__ = ["Witness"]


class Witness:
    """A plugin that sees what leaves after a commit: dispatched events, delivered emails.

    It implements every event hook and wraps `aftersales_mail_deliver` (a wrapper owns
    no port: the application's transport still delivers), which makes it work over any
    backend.
    """

    name = "aftersales-witness"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.emails: list[OutgoingEmail] = []

    def clear(self) -> None:
        self.events.clear()
        self.emails.clear()

    @property
    def quiet(self) -> bool:
        """Nothing was dispatched or delivered since the last `clear()`."""
        return not self.events and not self.emails

    def seen(self) -> str:
        kinds = [type(e).__name__ for e in self.events]
        return f"events {kinds}, emails {[m.subject for m in self.emails]}"

    @hookimpl
    def aftersales_on_document_created(self, event: DocumentCreated) -> None:
        self.events.append(event)

    @hookimpl
    def aftersales_on_document_changed(self, event: DocumentChanged) -> None:
        self.events.append(event)

    @hookimpl
    def aftersales_on_services_configured(self, event: ServicesConfigured) -> None:
        self.events.append(event)

    @hookimpl
    def aftersales_on_subscription_changed(self, event: SubscriptionChanged) -> None:
        self.events.append(event)

    @hookimpl
    def aftersales_on_email_delivery(self, event: EmailDelivery) -> None:
        self.events.append(event)

    @hookimpl(wrapper=True)
    def aftersales_mail_deliver(
        self, email: OutgoingEmail
    ) -> Generator[None, bool | DeliveryReport, bool | DeliveryReport]:
        self.emails.append(email)
        return (yield)
