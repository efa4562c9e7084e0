"""Operations staff who log into the dashboard; passwords are only ever stored hashed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID
from models.base import Base, UTCDateTime, utcnow


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Wrong passwords in a row; the fifth locks the account until `locked_until`.
    failed_logins: Mapped[int] = mapped_column(SmallInteger, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Written into the /ops cookie at login and compared on every request: logout, a
    # password change, disabling and a lockout bump it, which ends every open session.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
