"""Option 4, cash points: region, then province, then the cash points of both networks.

Items are numbered from 1 and never reach 98: `0`, `00` and `98` stay the engine's
(back, home, next page), and the engine pages long lists by itself.
"""

from __future__ import annotations

from menus.engine import Choice, Context, End, Go, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.networks import NETWORK_NAMES
from menus.ports import Place

MAX_ITEMS = 97  # 98 is the engine's "next page"


def numbered(places: list[Place], t: Translator) -> list[Choice]:
    """The places as choices; their names are data (said, on the voice line, by synthesis)."""
    return [Choice(str(number), t.data(place.name)) for number, place in enumerate(places[:MAX_ITEMS], start=1)]


def chosen(places: list[Place], value: str) -> Place | None:
    """The place numbered `value`, or None ("01" and the like are not item numbers)."""
    if not (value.isascii() and value.isdigit()) or value.startswith("0"):
        return None
    number = int(value)
    return places[number - 1] if 1 <= number <= min(len(places), MAX_ITEMS) else None


class Regions:
    """Choose a region, then `next_screen` with the params so far and the region's code
    (the one way to pick a place: cash points and registration requests alike)."""

    def __init__(self, title: str, next_screen: str) -> None:
        self.title = title
        self.next_screen = next_screen

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        places = ctx.ports.cashpoints.regions(session.written)
        return View([t(self.title), *numbered(places, t)])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        place = chosen(ctx.ports.cashpoints.regions(session.written), value)
        if place is None:
            return Invalid()
        return Go(self.next_screen, {**session.params, "region": place.code})


class Provinces:
    """Choose a province of the region chosen, then `next_screen` with its code added."""

    def __init__(self, next_screen: str) -> None:
        self.next_screen = next_screen

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        places = ctx.ports.cashpoints.provinces(region_code=session.params["region"], language=session.written)
        return View([t("Choose your province"), *numbered(places, t)])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        places = ctx.ports.cashpoints.provinces(region_code=session.params["region"], language=session.written)
        place = chosen(places, value)
        if place is None:
            return Invalid()
        return Go(self.next_screen, {**session.params, "province": place.code})


class CashPointList:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        province = session.params["province"]
        name = ctx.ports.cashpoints.province_name(province_code=province, language=session.written) or province
        points = ctx.ports.cashpoints.cash_points(province)
        if not points:
            return View([t("No cash point in {province} yet.", province=name)])
        lines = [t("Cash points in {province}:", province=name)]
        for point in points:
            lines.append(f"{t(NETWORK_NAMES[point.network])}: {t.data(point.name)}")
            lines.extend(t.data(line) for line in (point.address, point.opening_hours) if line)
        return View(lines, actions=[t("1 Receive this by SMS")])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1":
            return Invalid()
        sent = ctx.ports.cashpoints.send_list(
            phone=ctx.phone, language=session.written, province_code=session.params["province"]
        )
        if not sent:
            return Invalid(N_("This cannot be done now."))
        return End([t("We will send you an SMS. Thank you.")])


SCREENS: dict[str, Screen] = {
    "cashpoints": Regions(N_("Cash points: choose your region"), "cashpoints_provinces"),
    "cashpoints_provinces": Provinces("cashpoints_list"),
    "cashpoints_list": CashPointList(),
}
