"""Contribution categories and their dated monthly amounts (a decree adds a row)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID
from models.base import Base


class ContributionCategory(Base):
    __tablename__ = "contribution_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ar: Mapped[str] = mapped_column(String(120))
    name_fr: Mapped[str] = mapped_column(String(120))


class ContributionAmount(Base):
    __tablename__ = "contribution_amounts"
    __table_args__ = (
        UniqueConstraint("category_code", "effective_from"),
        CheckConstraint("monthly_centimes > 0", name="monthly_centimes_positive"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32), ForeignKey("contribution_categories.code"))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    monthly_centimes: Mapped[int] = mapped_column(Integer)
