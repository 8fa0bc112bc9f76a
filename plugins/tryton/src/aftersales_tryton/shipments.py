"""Customer return shipments (``stock.shipment.out.return``): create, receive, finish, cancel.

A return's incoming moves go from the customer location to the warehouse's input; Tryton
numbers the shipment when it is created. ``reference`` (a field of the shipment) carries the
caller's reference. Tryton does not compare returned with delivered quantities: the caller
caps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

import attrs
from proteus import Model

from aftersales.errors import InvalidInput, InvalidState
from aftersales_tryton._values import a_positive_quantity, an_id, decimal, load, record_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated
from aftersales_tryton.userwarnings import call_acknowledging, warning_name

__all__ = [
    "ReturnMove",
    "ReturnShipment",
    "cancel_return",
    "create_customer_return",
    "find_returns_by_reference",
    "finish_return",
    "read_return",
    "receive_return",
]

RETURN = "stock.shipment.out.return"
MOVE = "stock.move"


@attrs.frozen
class ReturnMove:
    """One incoming move of a return: product, quantity (in the product's unit), state."""

    id: int
    product_id: int
    quantity: Decimal
    state: str


@attrs.frozen
class ReturnShipment:
    """A customer return as Tryton holds it."""

    id: int
    number: str | None
    state: str
    customer_id: int
    reference: str | None
    effective_date: dt.date | None
    incoming_moves: tuple[ReturnMove, ...]
    #: Moves from the warehouse input to storage, made when the return is received.
    inventory_moves: tuple[ReturnMove, ...]


def _moves(moves: object) -> tuple[ReturnMove, ...]:
    return tuple(
        ReturnMove(
            id=record_id(move),
            product_id=record_id(move.product),
            quantity=decimal(move.quantity),
            state=str(move.state),
        )
        for move in moves  # type: ignore[attr-defined]
    )


def read_return(config: Config, shipment_id: int) -> ReturnShipment:
    """The return shipment ``shipment_id`` now."""
    record = load(config, RETURN, shipment_id, "return shipment")
    return ReturnShipment(
        id=record_id(record),
        number=record.number or None,
        state=str(record.state),
        customer_id=record_id(record.customer),
        reference=record.reference or None,
        effective_date=record.effective_date,
        incoming_moves=_moves(record.incoming_moves),
        inventory_moves=_moves(record.inventory_moves),
    )


def create_customer_return(
    config: Config,
    customer_id: int,
    lines: Sequence[tuple[int, Decimal | int]],
    *,
    reference: str | None = None,
    warehouse_code: str = "WH",
) -> ReturnShipment:
    """A draft return from ``customer_id`` of ``(product id, quantity)`` lines into the
    warehouse ``warehouse_code``, valued at the products' list prices."""
    if not lines:
        raise InvalidInput("lines", lines, "a return needs at least one line")
    checked = [
        (an_id("product id", product), a_positive_quantity("quantity", quantity))
        for product, quantity in lines
    ]
    if reference is not None and (not isinstance(reference, str) or not reference.strip()):
        raise InvalidInput("reference", reference, "a non-empty string")
    customer = load(config, "party.party", customer_id, "customer")
    products = [load(config, "product.product", product, "product") for product, _ in checked]
    location_model = Model.get("stock.location", config=config)
    with translated("create a customer return"):
        warehouses = location_model.find(
            [("code", "=", warehouse_code), ("type", "=", "warehouse")]
        )
        if not warehouses:
            raise InvalidInput("warehouse_code", warehouse_code, "no such warehouse in Tryton")
        (warehouse,) = warehouses
        (customer_location,) = location_model.find([("type", "=", "customer")], limit=1)
        company = Model.get("company.company", config=config)(config.context["company"])
        shipment = Model.get(RETURN, config=config)()
        shipment.customer = customer
        shipment.warehouse = warehouse
        shipment.reference = reference
        for product, (_, quantity) in zip(products, checked, strict=True):
            move = shipment.incoming_moves.new()
            move.product = product
            move.unit = product.default_uom
            move.quantity = quantity  # a Float field in Tryton; proteus converts
            move.from_location = customer_location
            move.to_location = warehouse.input_location
            move.unit_price = decimal(product.list_price_used)
            move.currency = company.currency
        shipment.save()
    return read_return(config, record_id(shipment))


def _transition(
    config: Config,
    shipment_id: int,
    button: str,
    allowed: set[str],
    acknowledge: Iterable[str] = (),
) -> ReturnShipment:
    shipment = load(config, RETURN, shipment_id, "return shipment")
    if shipment.state not in allowed:
        raise InvalidState(
            f"return shipment {shipment_id} is {shipment.state}: cannot {button} it "
            f"(only from {', '.join(sorted(allowed))})"
        )
    moves = sorted(record_id(move) for move in shipment.incoming_moves)
    accepted = [warning_name(kind, [(MOVE, move) for move in moves]) for kind in acknowledge]
    call_acknowledging(
        config,
        lambda: shipment.click(button),
        operation=f"{button} return shipment {shipment_id}",
        accepted=accepted,
    )
    return read_return(config, shipment_id)


def receive_return(
    config: Config, shipment_id: int, *, acknowledge: Iterable[str] = ()
) -> ReturnShipment:
    """The goods arrived: the incoming moves are done, inventory moves are drafted.

    With ``sale`` activated Tryton warns when a move from a customer has no origin (kind
    ``"done"``, about the incoming moves): pass it in ``acknowledge`` to accept it.
    """
    return _transition(config, shipment_id, "receive", {"draft"}, acknowledge)


def finish_return(config: Config, shipment_id: int) -> ReturnShipment:
    """Put the received goods into storage (state ``done``)."""
    return _transition(config, shipment_id, "do", {"received"})


def cancel_return(config: Config, shipment_id: int) -> ReturnShipment:
    """Cancel a draft or received return (its moves are cancelled)."""
    return _transition(config, shipment_id, "cancel", {"draft", "received"})


def find_returns_by_reference(config: Config, reference: str) -> tuple[ReturnShipment, ...]:
    """The customer returns whose ``reference`` is exactly ``reference`` (oldest first)."""
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput("reference", reference, "a non-empty string")
    with translated("find returns by reference"):
        found = Model.get(RETURN, config=config).find(
            [("reference", "=", reference)], order=[("id", "ASC")]
        )
    return tuple(read_return(config, record_id(record)) for record in found)
