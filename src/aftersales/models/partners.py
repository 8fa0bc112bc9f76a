"""Partners: customers, their companies (commercial entities) and addresses."""

from __future__ import annotations

import attrs

from aftersales.models._fields import MAX_NAME, bool_field, id_field, optional, text

__all__ = ["Partner"]


@attrs.frozen(kw_only=True)
class Partner:
    """A customer or contact.

    `commercial_entity_id` is the company the contact belongs to (its own id for a company
    or a lone person); invoices and deliveries of any contact of the same commercial entity
    belong to the customer. `delivery_address_id` is the partner to send technicians to.
    """

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    commercial_entity_id: str = attrs.field(validator=id_field)
    email: str | None = attrs.field(default=None, validator=optional(text(max_length=MAX_NAME)))
    is_company: bool = attrs.field(default=False, validator=bool_field)
    delivery_address_id: str | None = attrs.field(default=None, validator=optional(id_field))
