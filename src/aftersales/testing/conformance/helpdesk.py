"""Contract of the helpdesk port: teams, tickets, partners, products, links and the trail."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import (
    DocumentKind,
    DocumentLink,
    Money,
    ProductKind,
    Service,
    TicketMessage,
)
from aftersales.models.queries import LinkQuery, MessageQuery, link_key, message_key

from ._kit import ContractBase, Kit

__all__ = ["HelpdeskContract"]


def _linked(kit: Kit, ticket_id: str, *documents: tuple[DocumentKind, str]) -> list[DocumentLink]:
    """Link `documents` (kind, id) to the ticket in one unit of work, in order."""
    now = kit.clock.now()
    links = [
        DocumentLink(ticket_id=ticket_id, kind=kind, document_id=doc, created_at=now)
        for kind, doc in documents
    ]

    def add_all(h: object) -> None:
        for link in links:
            kit.hooks.add_link(link)

    kit.write(add_all)
    return links


class HelpdeskContract(ContractBase):
    """`aftersales_helpdesk_*`: lookups return what was stored, in the documented order."""

    def test_team_round_trip_and_update(self, kit: Kit) -> None:
        project = kit.world.project(name="Field")
        team = kit.world.team(
            name="Support",
            services={Service.REFUNDS, Service.COUPONS},
            fsm_project=project,
            members={"u-1", "u-2"},
            members_only=True,
        )
        assert kit.read(lambda h: h.get_team(team.id)) == team
        changed = attrs.evolve(team, services=frozenset({Service.RETURNS}), fsm_project_id=None)
        kit.write(lambda h: h.save_team(changed))
        assert kit.read(lambda h: h.get_team(team.id)) == changed

    def test_list_teams_in_a_stable_order(self, kit: Kit) -> None:
        teams = [kit.world.team(name=name) for name in ("Zeta", "Alpha", "Mid")]
        kit.write(lambda h: h.save_team(attrs.evolve(teams[0], name="Zeta 2")))
        listed = kit.read(lambda h: [t.id for t in h.list_teams()])
        assert listed == [t.id for t in teams]
        assert kit.read(lambda h: [t.id for t in h.list_teams()]) == listed

    def test_unknown_records_are_not_found(self, kit: Kit) -> None:
        for lookup in (
            lambda h: h.get_team("team-missing"),
            lambda h: h.get_ticket("ticket-missing"),
            lambda h: h.get_partner("partner-missing"),
            lambda h: h.get_product("product-missing"),
            lambda h: h.get_sale_order("so-missing"),
        ):
            with pytest.raises(NotFound, match="missing"):
                kit.read(lookup)

    def test_ticket_round_trip(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana", email="ana@example.com")
        marta = kit.world.customer(name="Marta")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        order = kit.world.sale_order(customer=ana)
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(
            team=team,
            title="Blender broken — ñandú",
            customer=ana,
            product=blender,
            sale_order=order,
            followers=[ana, marta],
            description="Line one\nline two",
        )
        assert kit.read(lambda h: h.get_ticket(ticket.id)) == ticket
        assert kit.read(lambda h: h.get_ticket(ticket.id)).follower_ids == (ana.id, marta.id)
        bare = kit.world.ticket(team=team, title="No customer")
        assert kit.read(lambda h: h.get_ticket(bare.id)) == bare

    def test_find_a_ticket_by_its_number(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        first = kit.world.ticket(team=team, title="First")
        second = kit.world.ticket(team=team, title="Second")
        assert first.ref != second.ref
        assert kit.read(lambda h: h.find_ticket(second.ref)) == second
        with pytest.raises(NotFound, match="#404404"):
            kit.read(lambda h: h.find_ticket("404404"))

    def test_find_tickets_of_customers_newest_first(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        luis = kit.world.customer(name="Luis")
        other = kit.world.customer(name="Other")
        team = kit.world.team(name="Support")
        first = kit.world.ticket(team=team, title="First", customer=ana)
        kit.clock.advance(hours=1)
        second = kit.world.ticket(team=team, title="Second", customer=luis)
        kit.clock.advance(hours=1)
        third = kit.world.ticket(team=team, title="Third", customer=ana)
        kit.world.ticket(team=team, title="Not theirs", customer=other)
        found = kit.read(lambda h: [t.id for t in h.find_tickets(frozenset({ana.id, luis.id}))])
        assert found == [third.id, second.id, first.id]
        assert kit.read(lambda h: list(h.find_tickets(frozenset()))) == []

    def test_equally_new_tickets_come_later_stored_first(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        team = kit.world.team(name="Support")
        made = [kit.world.ticket(team=team, title=f"T{n}", customer=ana) for n in (1, 2, 3)]
        found = kit.read(lambda h: [t.id for t in h.find_tickets(frozenset({ana.id}))])
        assert found == [t.id for t in reversed(made)]

    def test_partners_and_contacts_of_a_commercial_entity(self, kit: Kit) -> None:
        company = kit.world.company(name="Pérez Hogar S.L.", email="compras@perez.example")
        ana = kit.world.customer(name="Ana", company=company, delivery_address=True)
        luis = kit.world.customer(name="Luis", company=company)
        kit.world.customer(name="Someone else")
        assert kit.read(lambda h: h.get_partner(ana.id)) == ana
        contacts = kit.read(lambda h: list(h.list_contacts(company.id)))
        assert {p.id for p in contacts} == {
            company.id,
            ana.id,
            luis.id,
            ana.delivery_address_id,
        }
        assert contacts[0] == company
        assert kit.read(lambda h: list(h.list_contacts("partner-nobody"))) == []

    def test_product_and_sale_order_keep_exact_values(self, kit: Kit) -> None:
        product = kit.world.product(
            name="Flour",
            price=Decimal("1.05"),
            currency="EUR",
            taxes=("10% incl", "21%"),
            kind=ProductKind.CONSUMABLE,
            uom="kg",
            uom_digits=3,
        )
        yen = kit.world.product(name="Tea", price=Decimal("350"), currency="JPY")
        stored = kit.read(lambda h: h.get_product(product.id))
        assert stored == product
        assert stored.price == Money(amount=Decimal("1.05"), currency="EUR")
        assert str(stored.price.amount) == "1.05"
        assert stored.taxes[0].price_include is True
        assert kit.read(lambda h: h.get_product(yen.id)) == yen
        order = kit.world.sale_order(customer=kit.world.customer(name="Ana"), name="S00042")
        assert kit.read(lambda h: h.get_sale_order(order.id)) == order

    def test_links_oldest_first_and_relinking_keeps_one(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T")
        other = kit.world.ticket(team=team, title="Other")
        links = _linked(
            kit,
            ticket.id,
            (DocumentKind.CREDIT_NOTE, "cn-1"),
            (DocumentKind.COUPON, "cp-1"),
            (DocumentKind.RETURN, "ret-1"),
        )
        _linked(kit, other.id, (DocumentKind.TASK, "t-1"))
        kit.write(lambda h: h.add_link(links[0]))
        assert kit.read(lambda h: list(h.list_links(ticket.id))) == links
        assert kit.read(lambda h: list(h.list_links("ticket-none"))) == []

    def test_removing_a_link_unlinks_only_that_document(self, kit: Kit) -> None:
        """RP-10, AC-6: a deleted document is unlinked; relinking puts it last."""
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T")
        links = _linked(
            kit,
            ticket.id,
            (DocumentKind.REPAIR, "ro-1"),
            (DocumentKind.REPAIR, "ro-2"),
            (DocumentKind.TASK, "ro-1"),
        )
        removed = kit.write(lambda h: h.remove_link(ticket.id, DocumentKind.REPAIR, "ro-1"))
        assert removed == links[0]
        assert kit.read(lambda h: list(h.list_links(ticket.id))) == links[1:]
        with kit.unchanged():
            assert (
                kit.write(lambda h: h.remove_link(ticket.id, DocumentKind.REPAIR, "ro-1")) is None
            )
            assert kit.write(lambda h: h.remove_link("ticket-none", DocumentKind.TASK, "x")) is None
        kit.write(lambda h: h.add_link(links[0]))
        assert kit.read(lambda h: list(h.list_links(ticket.id))) == [*links[1:], links[0]]

    def test_trail_is_oldest_first_per_ticket(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T")
        other = kit.world.ticket(team=team, title="Other")
        start = kit.clock.now()
        messages = [
            TicketMessage(
                id=f"msg-{i}",
                ticket_id=ticket.id,
                at=start + timedelta(minutes=i),
                author_id="agent",
                body=f"Step {i}\nwith detail",
                document_kind=DocumentKind.REPAIR if i == 1 else None,
                document_id="rep-1" if i == 1 else None,
            )
            for i in range(3)
        ]
        stray = TicketMessage(
            id="msg-other", ticket_id=other.id, at=start, author_id="agent", body="Elsewhere"
        )

        def post(h: object) -> None:
            for message in (messages[0], stray, messages[1], messages[2]):
                kit.hooks.post_message(message)

        kit.write(post)
        assert kit.read(lambda h: list(h.list_messages(ticket.id))) == messages
        assert kit.read(lambda h: list(h.list_messages(other.id))) == [stray]

    def test_links_come_in_pages_newest_first_after_a_key(self, kit: Kit) -> None:
        """`links_page`: newest first by `(created_at, kind, document_id)`, strictly after
        the key, at most `limit`, only of `kind` when set; a link made between two pages
        never shifts the next one."""
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T")
        other = kit.world.ticket(team=team, title="Other")
        first = _linked(kit, ticket.id, (DocumentKind.RETURN, "ret-1"))
        kit.clock.advance(seconds=1)
        # one moment: kind, then document id decide
        tied = _linked(
            kit,
            ticket.id,
            (DocumentKind.COUPON, "cp-2"),
            (DocumentKind.TASK, "t-1"),
            (DocumentKind.COUPON, "cp-1"),
        )
        kit.clock.advance(seconds=1)
        last = _linked(kit, ticket.id, (DocumentKind.COUPON, "cp-3"))
        _linked(kit, other.id, (DocumentKind.COUPON, "cp-9"))
        order = [last[0], tied[1], tied[0], tied[2], first[0]]

        def page(
            after: DocumentLink | None, limit: int, kind: DocumentKind | None = None
        ) -> list[DocumentLink]:
            key = None if after is None else link_key(after)
            query = LinkQuery(ticket_id=ticket.id, kind=kind, after=key, limit=limit)
            return kit.read(lambda h: list(h.links_page(query)))

        assert page(None, 2) == order[:2]
        kit.clock.advance(seconds=1)
        newer = _linked(kit, ticket.id, (DocumentKind.INVOICE, "inv-1"))
        assert page(order[1], 2) == order[2:4]
        assert page(order[3], 2) == [order[4]]
        assert page(order[4], 2) == []
        assert page(None, 10) == [newer[0], *order]
        assert page(None, 10, DocumentKind.COUPON) == [last[0], tied[0], tied[2]]
        assert page(tied[0], 10, DocumentKind.COUPON) == [tied[2]]
        nothing = LinkQuery(ticket_id="ticket-none", limit=5)
        assert kit.read(lambda h: list(h.links_page(nothing))) == []

    def test_the_trail_comes_in_pages_newest_first_after_a_key(self, kit: Kit) -> None:
        """`messages_page`: newest first by `(at, id)`, strictly after the key, at most
        `limit`; a message posted between two pages never shifts the next one."""
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T")
        other = kit.world.ticket(team=team, title="Other")
        start = kit.clock.now()

        def message(ident: str, minutes: int, on: str = ticket.id) -> TicketMessage:
            at = start + timedelta(minutes=minutes)
            return TicketMessage(id=ident, ticket_id=on, at=at, author_id="agent", body=ident)

        # posted out of time order, two of one moment (the id decides)
        made = [message("m-a", 1), message("m-c", 5), message("m-b", 5), message("m-d", 3)]
        stray = message("m-z", 9, other.id)

        def post(*messages: TicketMessage) -> None:
            def write(h: object) -> None:
                for m in messages:
                    kit.hooks.post_message(m)

            kit.write(write)

        post(*made, stray)
        order = [made[1], made[2], made[3], made[0]]

        def page(after: TicketMessage | None, limit: int) -> list[TicketMessage]:
            key = None if after is None else message_key(after)
            query = MessageQuery(ticket_id=ticket.id, after=key, limit=limit)
            return kit.read(lambda h: list(h.messages_page(query)))

        assert page(None, 3) == order[:3]
        newer = message("m-e", 7)
        post(newer)
        assert page(order[0], 2) == order[1:3]
        assert page(order[2], 2) == [order[3]]
        assert page(order[3], 2) == []
        assert page(None, 10) == [newer, *order]
        nothing = MessageQuery(ticket_id="ticket-none", limit=5)
        assert kit.read(lambda h: list(h.messages_page(nothing))) == []
