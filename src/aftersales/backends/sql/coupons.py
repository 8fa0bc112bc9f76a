"""What the reference ERP's loyalty stores (`CouponStore`), in a SQL backend's database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from aftersales.backends.sql import mapping
from aftersales.backends.sql.schema import metadata
from aftersales.errors import DuplicateKey
from aftersales.models import Coupon, CouponProgram, CouponUse

if TYPE_CHECKING:
    from aftersales.backends.sql.backend import SqlBackend

__all__ = ["SqlCoupons"]

_PROGRAMS, _COUPONS = metadata.tables["programs"], metadata.tables["coupons"]
_USES = metadata.tables["coupon_uses"]


class SqlCoupons:
    """Programs, coupons and uses in `backend`'s database, inside its current unit of work."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend

    def list_programs(self) -> list[CouponProgram]:
        return self._b._all(_PROGRAMS, mapping.program)

    def get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        return self._b._one(_PROGRAMS, "id", program_id, mapping.program, lock)

    def get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        return self._b._one(_COUPONS, "id", coupon_id, mapping.coupon, lock)

    def find_coupon(self, code: str, lock: bool) -> Coupon | None:
        return self._b._one(_COUPONS, "code", code, mapping.coupon, lock)

    def insert_coupon(self, coupon: Coupon) -> Coupon:
        row = mapping.coupon_row(coupon)
        insert = self._b._insert_new(_COUPONS, tuple(row))
        taken = self._b._statement(
            ("coupon code taken",),
            lambda: sa.select(_COUPONS.c.id).where(_COUPONS.c.code == sa.bindparam("code")),
        )
        with self._b.db.connection() as conn:
            if insert.run(conn, row) == 0:
                if taken.first(conn, {"code": coupon.code}) is None:
                    raise DuplicateKey("coupon id", coupon.id)
                raise DuplicateKey("coupon code", coupon.code)
        return coupon

    def save_coupon(self, coupon: Coupon) -> Coupon:
        row = mapping.coupon_row(coupon)
        upsert = self._b._upsert(_COUPONS, tuple(row))
        with self._b.db.connection() as conn:
            self._b.db.unique(conn, lambda: upsert.run(conn, row), "coupon code", coupon.code)
        return coupon

    def add_use(self, use: CouponUse) -> CouponUse:
        self._b._save(_USES, mapping.coupon_use_row(use))
        return use

    def count_uses(self, program_id: str) -> int:
        stmt = self._b._statement(
            ("count uses",),
            lambda: (
                sa.select(sa.func.count().label("uses"))
                .select_from(_USES)
                .where(_USES.c.program_id == sa.bindparam("value"))
            ),
        )
        with self._b.db.connection(writes=False) as conn:
            return int(stmt.scalar(conn, {"value": program_id}))

    def coupons_by_reference(self, reference: str) -> list[Coupon]:
        return self._b._many(_COUPONS, "operation_ref", reference, mapping.coupon)
