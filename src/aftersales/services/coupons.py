"""Coupons from a ticket (coupons.md): programs, generation, sending, evaluation, redemption.

`app.coupons` offers the coupon programs a ticket may use (CP-2), generates a coupon for
the ticket's customer with a unique code (CP-4 … CP-6), emails it to the customer and every
follower of the ticket (CP-7, CP-8), evaluates a coupon against an order (CP-3), redeems a
code (CP-9) and lists a ticket's coupons (CP-10).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import attrs

from aftersales.access import Action
from aftersales.arguments import (
    a_coupon_code,
    a_day,
    a_record,
    a_text,
    addresses,
    an_id,
    optional,
)
from aftersales.errors import (
    ConfigurationError,
    ConflictError,
    DuplicateKey,
    InvalidCoupon,
    InvalidInput,
    InvalidOperation,
    InvalidState,
)
from aftersales.formatting import show
from aftersales.ids import new_id
from aftersales.models import (
    Actor,
    Coupon,
    CouponProgram,
    CouponRequest,
    CouponState,
    CouponUse,
    DocumentKind,
    Order,
    OutgoingEmail,
    Partner,
    RewardKind,
    Service,
    Ticket,
)
from aftersales.models.loyalty import check_coupon_code, coupon_state, effective_expiry
from aftersales.models.mail import MAX_RECIPIENTS, check_email_address, unique_addresses
from aftersales.services._base import ServiceBase
from aftersales.services.discounts import (
    CouponEvaluation,
    DiscountShare,
    FreeProduct,
    evaluate_program,
)
from aftersales.unit_of_work import UnitOfWork

__all__ = [
    "CODE_EXPIRED",
    "CODE_INVALID",
    "COUPON_EXPIRED",
    "COUPON_USED",
    "CouponEvaluation",
    "CouponInfo",
    "CouponRedemption",
    "CouponSent",
    "CouponService",
    "DiscountShare",
    "FreeProduct",
]

log = logging.getLogger(__name__)

#: The four refusals of a redemption (CP-9), as `InvalidCoupon.reason`.
CODE_INVALID = "this code is invalid"
CODE_EXPIRED = "this code is expired"
COUPON_EXPIRED = "this coupon is expired"
COUPON_USED = "this coupon has already been used"

#: Most extra recipients one sending may add.
MAX_EXTRA_RECIPIENTS = 50


@attrs.frozen(kw_only=True)
class CouponInfo:
    """A coupon as the ticket shows it (CP-6, CP-10): the code to copy, its program and
    reward, its expiry and its state.

    `expires_on` is the last day it can be used: the coupon's own date or the program's
    end, whichever comes first (`None` when neither is set).
    """

    id: str
    code: str
    program_id: str
    program_name: str
    reward: str
    partner_id: str
    expires_on: date | None
    state: CouponState
    points: Decimal
    created_at: datetime
    ticket_id: str | None = None


@attrs.frozen(kw_only=True)
class CouponSent:
    """A coupon emailed from a ticket (CP-7, CP-8).

    `recipients` are the addresses it went to; `without_email` names the customer or
    followers that were skipped because they have no email address.
    """

    coupon_id: str
    code: str
    email_id: str
    subject: str
    recipients: tuple[str, ...]
    without_email: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class CouponRedemption:
    """One use of a coupon (CP-9): the use recorded, the coupon after it, and how many
    times the program has been used in all."""

    use: CouponUse
    coupon: CouponInfo
    program_uses: int


class CouponService(ServiceBase):
    """Coupons from a ticket: `app.coupons`.

    Every call needs a helpdesk user (AC-2). Calls on a ticket also need the ticket's team
    to have coupons on (ST-1) and the actor to see the ticket (AC-3); a refused call
    changes nothing (G-3).
    """

    # -- CP-2 ---------------------------------------------------------------------------------

    def programs(self, ticket_id: str, *, actor: Actor) -> tuple[CouponProgram, ...]:
        """The programs the ticket may offer: active, of type coupons, triggered by a code,
        not expired (CP-2).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The programs offered, in the order the backend lists them.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            ServiceDisabled: The ticket's team has coupons off (ST-1).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> tuple[CouponProgram, ...]:
            self._guard.ticket(actor, Action.COUPON, ticket_id, Service.COUPONS)
            today = uow.now.date()
            return tuple(p for p in self._hooks.list_programs() if p.is_offered(today))

        return self._rt.call(actor, Action.COUPON, work, writes=False)

    # -- CP-4, CP-5, CP-6 ---------------------------------------------------------------------

    def generate(
        self,
        ticket_id: str,
        program_id: str,
        *,
        expires_on: date | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> CouponInfo:
        """Create a coupon of `program_id` for the ticket's customer (CP-4).

        The coupon has the points to use the program's reward once, expires after
        `expires_on` (if given; today or later), and gets a new unique code from
        `Config.coupon_code_generator`
        (CP-5). It is linked to the ticket, counted on the ticket view and recorded on the
        trail (G-4). Returns the code to copy, the program and the expiry (CP-6).

        Args:
            ticket_id: The ticket the call is made from.
            program_id: The coupon program; it must be offered on the ticket (CP-2).
            expires_on: The last day the coupon can be used (today or later), or `None` for the
                program's own end.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The new coupon: its code to copy, program, reward and expiry (CP-6).

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no program `program_id`.
            ServiceDisabled: The ticket's team has coupons off (ST-1).
            InvalidOperation: The ticket has no customer, or the program is not offered (inactive,
                ended, not of type coupons or not triggered by a code).
            InvalidInput: `expires_on` is not a date or is in the past, or an argument has the
                wrong shape.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> CouponInfo:
            ctx = self._guard.ticket(actor, Action.COUPON, ticket_id, Service.COUPONS)
            an_id(program_id, "program_id")
            optional(a_day)(expires_on, "expires_on")
            args = {"ticket_id": ticket_id, "program_id": program_id, "expires_on": expires_on}
            done = uow.replay(idempotency_key, "coupons.generate", args, CouponInfo)
            if done is not None:
                return done
            ticket = ctx.ticket
            today = uow.now.date()
            if ticket.customer_id is None:
                raise InvalidOperation(
                    f"ticket #{ticket.ref} has no customer: a coupon is generated for the "
                    "ticket's customer"
                )
            if expires_on is not None and expires_on < today:
                raise InvalidInput(
                    "expires_on", expires_on, f"is in the past (today is {today.isoformat()})"
                )
            program = self._hooks.get_program(program_id)
            self._check_offered(program, today)
            coupon = self._create(uow, program, ticket, expires_on)
            reward = self._reward_text(program)
            self._link(
                uow,
                ticket,
                actor,
                DocumentKind.COUPON,
                coupon.id,
                f"Coupon {coupon.code} generated ({program.name}: {reward})"
                + (f", valid until {expires_on.isoformat()}" if expires_on else ""),
                key=idempotency_key,
            )
            return self._info(coupon, program, today, uses=self._hooks.count_uses(program.id))

        return self._rt.call(actor, Action.COUPON, work, writes=True)

    def _check_offered(self, program: CouponProgram, today: date) -> None:
        if not program.is_offered(today):
            if program.has_ended(today):
                why = "it has ended"
            else:
                why = "only active coupon programs triggered by a code can be offered"
            raise InvalidOperation(f"coupon program {show(program.name)} cannot be offered: {why}")
        uses = self._hooks.count_uses(program.id)
        if program.limit_reached(uses):
            raise InvalidOperation(
                f"coupon program {show(program.name)} has reached its usage limit "
                f"({program.max_usage} uses): a new coupon could not be used"
            )

    def _create(
        self, uow: UnitOfWork, program: CouponProgram, ticket: Ticket, expires_on: date | None
    ) -> Coupon:
        """Ask the ERP for a coupon with a fresh code; its unique constraint decides (CP-5)."""
        assert ticket.customer_id is not None
        config = self._rt.config
        program_codes = {p.code for p in self._hooks.list_programs() if p.code is not None}
        for attempt in range(1, config.coupon_code_attempts + 1):
            code = config.coupon_code_generator(program)
            try:
                check_coupon_code(code, "code")
            except InvalidInput as exc:
                raise ConfigurationError(
                    f"the coupon code generator returned an unusable code: {exc}"
                ) from exc
            if code in program_codes:
                log.info("generated coupon code equals a program's code; drawing another")
                continue
            request = CouponRequest(
                program_id=program.id,
                partner_id=ticket.customer_id,
                code=code,
                points=program.reward.required_points,
                at=uow.now,
                reference=uow.reference,
                expires_on=expires_on,
                ticket_id=ticket.id,
            )
            try:
                return self._hooks.issue_coupon(request)
            except DuplicateKey:
                log.info("coupon code collision (attempt %d); drawing another", attempt)
        raise ConflictError(
            f"no free coupon code after {config.coupon_code_attempts} attempts; "
            "does the coupon code generator return random codes?"
        )

    # -- CP-7, CP-8 ---------------------------------------------------------------------------

    def send(
        self,
        ticket_id: str,
        coupon_id: str,
        *,
        extra_recipients: Iterable[str] = (),
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> CouponSent:
        """Email a coupon of the ticket to its customer, every follower of the ticket and
        `extra_recipients`, each address once (CP-7).

        Every address is checked first: an invalid one, or an attempt to inject a header,
        raises [`InvalidInput`][aftersales.errors.InvalidInput] and nothing is sent. The message,
        in plain text and HTML, names the code, the reward and the expiry (CP-8); it is queued in
        the outbox and handed to the mail transport only after the call commits. The trail records
        the recipients.

        Args:
            ticket_id: The ticket the call is made from.
            coupon_id: A coupon generated from this ticket.
            extra_recipients: More email addresses to send it to (at most 50).
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The email queued: its id, subject, the addresses it goes to, and who was skipped for
            having no email address.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no coupon `coupon_id`.
            ServiceDisabled: The ticket's team has coupons off (ST-1).
            InvalidInput: An address is invalid or tries to inject a header, or an argument has the
                wrong shape.
            InvalidOperation: The coupon was not generated from the ticket, or nobody has an email
                address.
            InvalidState: The coupon is used up or expired.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> CouponSent:
            ctx = self._guard.ticket(actor, Action.COUPON, ticket_id, Service.COUPONS)
            an_id(coupon_id, "coupon_id")
            extras = addresses(extra_recipients, "extra_recipients", most=MAX_EXTRA_RECIPIENTS)
            args = {
                "ticket_id": ticket_id,
                "coupon_id": coupon_id,
                "extra_recipients": list(extras),
            }
            done = uow.replay(idempotency_key, "coupons.send", args, CouponSent)
            if done is not None:
                return done
            ticket = ctx.ticket
            coupon = self._hooks.get_coupon(coupon_id)
            if coupon.ticket_id != ticket.id:
                raise InvalidOperation(
                    f"coupon {coupon.code} was not generated from ticket #{ticket.ref}"
                )
            program = self._hooks.get_program(coupon.program_id)
            today = uow.now.date()
            state = coupon_state(coupon, program, today, self._hooks.count_uses(program.id))
            if state is not CouponState.VALID:
                raise InvalidState(
                    f"coupon {coupon.code} is {state.value}: generate a new one to send"
                )
            partners = self._partners(ticket)
            recipients: list[str] = []
            without: list[str] = []
            for partner in partners:
                if partner.email is None or not partner.email.strip():
                    without.append(partner.name)
                    continue
                recipients.append(check_email_address(partner.email, f"email of {partner.name}"))
            unique = unique_addresses([*recipients, *extras])
            if not unique:
                raise InvalidOperation(
                    f"nobody to send coupon {coupon.code} to: the customer and followers of "
                    f"ticket #{ticket.ref} have no email address; add a recipient"
                )
            if len(unique) > MAX_RECIPIENTS:
                raise InvalidInput("recipients", len(unique), f"at most {MAX_RECIPIENTS}")
            customer = self._hooks.get_partner(ticket.customer_id) if ticket.customer_id else None
            email = self._email(uow, ticket, coupon, program, customer, unique)
            stored = uow.send(email)
            body = f"Coupon {coupon.code} sent by email to {', '.join(unique)}"
            if without:
                body += f" (no email address: {', '.join(without)})"
            self._changed(
                uow, ticket.id, actor, DocumentKind.COUPON, coupon.id, "sent", body, idempotency_key
            )
            return CouponSent(
                coupon_id=coupon.id,
                code=coupon.code,
                email_id=stored.id,
                subject=stored.subject,
                recipients=unique,
                without_email=tuple(without),
            )

        return self._rt.call(actor, Action.COUPON, work, writes=True)

    def _partners(self, ticket: Ticket) -> list[Partner]:
        """The ticket's customer, then its followers, each once."""
        ids = [ticket.customer_id] if ticket.customer_id else []
        ids += ticket.follower_ids
        return [self._hooks.get_partner(pid) for pid in dict.fromkeys(ids)]

    def _email(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        coupon: Coupon,
        program: CouponProgram,
        customer: Partner | None,
        recipients: tuple[str, ...],
    ) -> OutgoingEmail:
        reward = self._reward_text(program)
        expiry = effective_expiry(coupon, program)
        valid = f"until {expiry.isoformat()}" if expiry else "with no expiration date"
        greeting = f"Hello {customer.name}," if customer else "Hello,"
        intro = f"here is your coupon from ticket #{ticket.ref} ({ticket.title})."
        text = "\n".join(
            [
                greeting,
                "",
                intro[0].upper() + intro[1:],
                "",
                f"Code: {coupon.code}",
                f"Reward: {reward}",
                f"Valid {valid}.",
                "",
                "Enter the code when you place your order.",
                "",
            ]
        )
        e = html.escape
        body_html = (
            "<!DOCTYPE html>\n<html><body>\n"
            f"<p>{e(greeting)}</p>\n"
            f"<p>{e(intro[0].upper() + intro[1:])}</p>\n"
            "<table>\n"
            f'<tr><th align="left">Code</th><td><code>{e(coupon.code)}</code></td></tr>\n'
            f'<tr><th align="left">Reward</th><td>{e(reward)}</td></tr>\n'
            f'<tr><th align="left">Valid</th><td>{e(valid)}</td></tr>\n'
            "</table>\n"
            "<p>Enter the code when you place your order.</p>\n"
            "</body></html>\n"
        )
        return OutgoingEmail(
            id=new_id("mail"),
            recipients=recipients,
            subject=f"Your coupon: {program.name}",
            text_body=text,
            html_body=body_html,
            created_at=uow.now,
            ticket_id=ticket.id,
        )

    def _reward_text(self, program: CouponProgram) -> str:
        reward = program.reward
        if reward.kind is RewardKind.FREE_PRODUCT and reward.free_product_id is not None:
            try:
                name = self._hooks.get_product(reward.free_product_id).name
            except LookupError:
                name = None
            return reward.describe(free_product_name=name)
        return reward.describe()

    # -- CP-3 ---------------------------------------------------------------------------------

    def evaluate(self, code: str, order: Order, *, actor: Actor) -> CouponEvaluation:
        """What the coupon `code` grants on `order` (CP-3), without using it.

        A code that could not be redeemed raises [`InvalidCoupon`][aftersales.errors.InvalidCoupon]
        with the same reason [`redeem()`][aftersales.services.coupons.CouponService.redeem] gives.
        Otherwise the result says whether the program's conditions hold (and which failed if not)
        and the discount: untaxed, tax and total, split per tax set of the discounted lines.

        Args:
            code: The coupon code, as the customer types it.
            order: The order to apply it to: lines of product, quantity, unit price and taxes.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            Whether the program's conditions hold on the order (and which failed), and the discount
            per tax set.

        Raises:
            InvalidCoupon: The code cannot be redeemed; `reason` says why (CP-9).
            AccessDenied: The actor is not a helpdesk user, or the coupon comes from a ticket the
                actor may not see.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> CouponEvaluation:
            wanted = self._visible_code(actor, code)
            a_record(order, Order, "order")
            _coupon, program, _uses = self._usable(uow, wanted, lock=False)
            return evaluate_program(program, order)

        return self._rt.call(actor, Action.COUPON, work, writes=False)

    # -- CP-9 ---------------------------------------------------------------------------------

    def redeem(
        self,
        code: str,
        *,
        order_reference: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> CouponRedemption:
        """Use the coupon `code` once (CP-9).

        Refusals raise [`InvalidCoupon`][aftersales.errors.InvalidCoupon]: an unknown code ("this
        code is invalid"), an archived or ended program or one whose usage limit is reached ("this
        code is expired"), a coupon past its expiration date ("this coupon is expired"), a coupon
        without points left ("this coupon has already been used"). The coupon and its
        program are locked while the use is counted, so uses never exceed the limit, also
        when many redeem at once. The use is recorded, and on the coupon's ticket's trail
        when it came from a ticket.

        Args:
            code: The coupon code, as the customer types it.
            order_reference: The order the coupon is used on, recorded with the use.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The use recorded, the coupon after it, and the program's uses so far.

        Raises:
            InvalidCoupon: The code cannot be redeemed; `reason` is one of the four refusals of
                CP-9.
            AccessDenied: The actor is not a helpdesk user, or the coupon comes from a ticket the
                actor may not see.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> CouponRedemption:
            wanted = self._visible_code(actor, code)
            reference = a_text(order_reference, "order_reference", required=False)
            args = {"code": wanted, "order_reference": reference}
            done = uow.replay(idempotency_key, "coupons.redeem", args, CouponRedemption)
            if done is not None:
                return done
            coupon, program, uses = self._usable(uow, wanted, lock=True)
            cost = program.reward.required_points
            made = self._hooks.redeem(coupon.id, cost, reference, uow.now, uow.reference)
            use, coupon = made.use, made.coupon
            body = f"Coupon {coupon.code} redeemed" + (
                f" on order {reference}" if reference else ""
            )
            self._changed(
                uow,
                coupon.ticket_id,
                actor,
                DocumentKind.COUPON,
                coupon.id,
                "redeemed",
                body,
                idempotency_key,
            )
            return CouponRedemption(
                use=use,
                coupon=self._info(coupon, program, uow.now.date(), uses=uses + 1),
                program_uses=uses + 1,
            )

        return self._rt.call(actor, Action.COUPON, work, writes=True)

    def _visible_code(self, actor: Actor, code: object) -> str:
        """The checked `code`; a coupon generated from a ticket is for those who may see
        the ticket (AC-3), like the ticket itself."""
        wanted = a_coupon_code(code, "code")
        coupon = self._hooks.find_coupon(wanted, lock=False)
        if coupon is not None and coupon.ticket_id is not None:
            self._guard.ticket(actor, Action.COUPON, coupon.ticket_id)
        return wanted

    def _usable(
        self, uow: UnitOfWork, code: str, *, lock: bool
    ) -> tuple[Coupon, CouponProgram, int]:
        """The coupon of `code`, its program and the program's uses so far, or the
        [`InvalidCoupon`][aftersales.errors.InvalidCoupon] refusal of CP-9. Locks coupon then
        program when asked."""
        coupon = self._hooks.find_coupon(code, lock=lock)
        if coupon is None:
            raise InvalidCoupon(code, CODE_INVALID)
        program = self._hooks.get_program(coupon.program_id, lock=lock)
        uses = self._hooks.count_uses(program.id)
        today = uow.now.date()
        if program.has_ended(today) or program.limit_reached(uses):
            raise InvalidCoupon(code, CODE_EXPIRED)
        if coupon.is_expired(today):
            raise InvalidCoupon(code, COUPON_EXPIRED)
        if coupon.points < program.reward.required_points:
            raise InvalidCoupon(code, COUPON_USED)
        return coupon, program, uses

    # -- CP-10 --------------------------------------------------------------------------------

    def coupons(self, ticket_id: str, *, actor: Actor) -> tuple[CouponInfo, ...]:
        """The ticket's coupons, oldest first: code, program, expiry and state (CP-10).

        Listing needs only the right to view the ticket: coupons already issued stay
        visible after the team turns coupons off.

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The coupons generated from the ticket, oldest first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> tuple[CouponInfo, ...]:
            ctx = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id)
            today = uow.now.date()
            found: list[CouponInfo] = []
            uses: dict[str, int] = {}
            for link in self._hooks.list_links(ctx.ticket.id):
                if link.kind is not DocumentKind.COUPON:
                    continue
                coupon = self._hooks.get_coupon(link.document_id)
                program = self._hooks.get_program(coupon.program_id)
                if program.id not in uses:
                    uses[program.id] = self._hooks.count_uses(program.id)
                found.append(self._info(coupon, program, today, uses=uses[program.id]))
            return tuple(found)

        return self._rt.call(actor, Action.VIEW_TICKET, work, writes=False)

    def _info(
        self, coupon: Coupon, program: CouponProgram, today: date, *, uses: int
    ) -> CouponInfo:
        return CouponInfo(
            id=coupon.id,
            code=coupon.code,
            program_id=program.id,
            program_name=program.name,
            reward=self._reward_text(program),
            partner_id=coupon.partner_id,
            expires_on=effective_expiry(coupon, program),
            state=coupon_state(coupon, program, today, uses),
            points=coupon.points,
            created_at=coupon.created_at,
            ticket_id=coupon.ticket_id,
        )
