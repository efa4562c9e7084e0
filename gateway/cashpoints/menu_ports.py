"""The cash-point side of `menus.ports`: the directory seen by the menus."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.cashpoints import service
from gateway.sms.outbox import MAX_SEGMENTS, queue_sms, render, segments
from menus.i18n import Translator
from menus.networks import NETWORK_NAMES
from menus.ports import CashPointInfo, Place
from models import CashPoint

SMS_POINTS = 3  # at most, in one SMS


def cash_point_info(point: CashPoint) -> CashPointInfo:
    return CashPointInfo(
        network=point.network, name=point.name, address=point.address, opening_hours=point.opening_hours
    )


def sms_points(province: str, points: list[CashPointInfo], language: str) -> str:
    """The `{points}` of the `cash_points` SMS: as many of the first points as fit in its
    segments, with their hours when there is room, the last one shortened if even one
    alone does not fit."""
    t = Translator(language)

    def entry(point: CashPointInfo, hours: bool) -> str:
        # The networks mostly name their counters after themselves: no need to say it twice.
        name = (
            point.name
            if NETWORK_NAMES[point.network] in point.name
            else f"{t(NETWORK_NAMES[point.network])} {point.name}"
        )
        parts = [name, point.address, point.opening_hours if hours else ""]
        return ", ".join(part for part in parts if part)

    def fits(text: str) -> bool:
        return segments(render("cash_points", language, province=province, points=text))[0] <= MAX_SEGMENTS

    for hours in (True, False):
        for count in range(min(SMS_POINTS, len(points)), 0, -1):
            text = "; ".join(entry(point, hours) for point in points[:count])
            if fits(text):
                return text
    text = entry(points[0], False) if points else ""
    while text and not fits(text + "..."):
        text = text[:-1]
    return text.rstrip() + "..."


class MenuCashPoints:
    def __init__(self, *, db: Session) -> None:
        self.db = db

    def regions(self, language: str) -> list[Place]:
        return [Place(area.code, area.name(language)) for area in service.regions()]

    def provinces(self, *, region_code: str, language: str) -> list[Place]:
        return [Place(area.code, area.name(language)) for area in service.provinces(region_code)]

    def province_name(self, *, province_code: str, language: str) -> str | None:
        area = service.province(province_code)
        return area.name(language) if area is not None else None

    def cash_points(self, province_code: str) -> list[CashPointInfo]:
        return [cash_point_info(point) for point in service.cash_points(self.db, province_code=province_code)]

    def send_list(self, *, phone: str, language: str, province_code: str) -> bool:
        area = service.province(province_code)
        points = self.cash_points(province_code)
        if area is None or not points:
            return False
        name = area.name(language)
        queue_sms(
            self.db,
            recipient=phone,
            language=language,
            template="cash_points",
            subject=f"cash_points:{province_code}",
            # Asked for now, to go and pay: like a reference, it passes quiet hours.
            urgent=True,
            province=name,
            points=sms_points(name, points, language),
        )
        return True
