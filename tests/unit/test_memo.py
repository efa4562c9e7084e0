"""What a session keeps of its reads: read once, forgotten on writes, JSON-ready."""

from __future__ import annotations

import datetime as dt

import orjson

from gateway.memo import FlatCodec, SessionMemo
from menus.ports import AgentInfo, RegistrationStatus

STATUS = FlatCodec(RegistrationStatus)


def _status(paid_through: dt.date | None) -> RegistrationStatus:
    return RegistrationStatus(
        rna_number="RNA-1",
        rna_status="registered",
        trade="pottery",
        amo_status="waiting",
        waiting_until=dt.date(2027, 2, 1),
        months_unpaid=0,
        paid_through=paid_through,
        months_due=2,
        total_due_centimes=27000,
    )


def test_a_read_runs_once_until_forgotten() -> None:
    memo, loads = SessionMemo(), []

    def load() -> AgentInfo:
        loads.append(1)
        return AgentInfo(id=7, code="WF-1", network="wafacash", locked=False)

    codec = FlatCodec(AgentInfo)
    first = memo.get("agent:7", load, encode=codec.encode, decode=codec.decode)
    # The record goes through Redis as JSON between hops.
    again = SessionMemo(orjson.loads(orjson.dumps(memo.data))).get(
        "agent:7", load, encode=codec.encode, decode=codec.decode
    )
    assert first == again and len(loads) == 1
    # Another read takes its place: the record keeps the latest one only.
    memo.get("status:1", lambda: _status(None), encode=STATUS.encode, decode=STATUS.decode)
    assert list(memo.data) == ["status:1"]
    memo.forget()
    memo.get("agent:7", load, encode=codec.encode, decode=codec.decode)
    assert len(loads) == 2


def test_flat_codec_keeps_dates_and_nones() -> None:
    for value in (_status(dt.date(2026, 11, 1)), _status(None), None):
        assert STATUS.decode(orjson.loads(orjson.dumps(STATUS.encode(value)))) == value


def test_a_value_kept_in_another_shape_is_read_again() -> None:
    memo = SessionMemo({"status:1": ["too", "short"]})
    value = memo.get("status:1", lambda: _status(None), encode=STATUS.encode, decode=STATUS.decode)
    assert value == _status(None) and memo.data["status:1"] == STATUS.encode(value)
