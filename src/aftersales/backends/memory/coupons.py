"""What the reference ERP's loyalty stores (`CouponStore`), on the memory store."""

from __future__ import annotations

from aftersales.errors import DuplicateKey
from aftersales.models import Coupon, CouponProgram, CouponUse

from .store import MemoryStore

__all__ = ["MemoryCoupons"]


class MemoryCoupons:
    """Programs, coupons and uses on `store` (its lock serializes units, so `lock` needs
    nothing)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def list_programs(self) -> list[CouponProgram]:
        return self._store.values("programs")

    def get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        program: CouponProgram | None = self._store.get("programs", program_id)
        return program

    def get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        coupon: Coupon | None = self._store.get("coupons", coupon_id)
        return coupon

    def find_coupon(self, code: str, lock: bool) -> Coupon | None:
        found: list[Coupon] = self._store.by_index("coupons", "code", code)
        return found[0] if found else None

    def insert_coupon(self, coupon: Coupon) -> Coupon:
        with self._store.lock:
            if self._store.by_index("coupons", "code", coupon.code):
                raise DuplicateKey("coupon code", coupon.code)
            if self._store.get("coupons", coupon.id) is not None:
                raise DuplicateKey("coupon id", coupon.id)
            self._store.put("coupons", coupon.id, coupon)
        return coupon

    def save_coupon(self, coupon: Coupon) -> Coupon:
        self._store.put("coupons", coupon.id, coupon)
        return coupon

    def add_use(self, use: CouponUse) -> CouponUse:
        self._store.put("coupon_uses", use.id, use)
        return use

    def count_uses(self, program_id: str) -> int:
        return len(self._store.by_index("coupon_uses", "program", program_id))

    def coupons_by_reference(self, reference: str) -> list[Coupon]:
        return self._store.by_index("coupons", "operation", reference)
