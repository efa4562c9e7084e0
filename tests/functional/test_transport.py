"""The USSD transport: IP allow list behind trusted proxies, service codes, session TTL,
and the work one hop does (Redis commands, SQL statements)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis
from flask import Flask
from rq.utils import get_version
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import db
from gateway.sms.dispatch import SEND_JOB
from gateway.sms_app import dispatcher_of
from models import Artisan, OutboxMessage
from tests.conftest import CALLBACK_KEY, REDIS_URL
from tests.functional.test_round_trips import walk_full_cycle
from tests.helpers import Dialer, redis_sent, sql_sent

FORM = {"sessionId": "ip-test", "serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": ""}


def _post(
    app: Flask, headers: dict[str, str] | None = None, remote: str = "127.0.0.1", form: dict[str, str] | None = None
) -> tuple[int, str]:
    response = app.test_client().post(
        f"/ussd/africastalking?key={CALLBACK_KEY}",
        data=form or FORM,
        headers=headers or {},
        environ_base={"REMOTE_ADDR": remote},
    )
    return response.status_code, response.get_data(as_text=True)


def _with_db(app: Flask, session: Session) -> Flask:
    app.extensions[db.EXTENSION] = lambda: session
    return app


def test_a_previous_callback_key_works_while_the_aggregator_is_switched(
    make_app: Callable[..., Flask], demo: Session
) -> None:
    new = "a-new-callback-key-0123456789abcdefgh"
    app = _with_db(make_app(ussd_callback_key=new, ussd_callback_key_fallbacks=(CALLBACK_KEY,)), demo)
    assert _post(app)[0] == 200  # the old key, still in the aggregator's URL
    with app.test_client() as client:
        assert client.post(f"/ussd/africastalking?key={new}", data=FORM).status_code == 200
        assert client.post("/ussd/africastalking?key=another-key", data=FORM).status_code == 403
    assert _post(_with_db(make_app(ussd_callback_key=new), demo))[0] == 403  # the switch done


def test_allow_list_reads_the_client_behind_a_trusted_proxy(make_app: Callable[..., Flask], demo: Session) -> None:
    app = _with_db(make_app(ussd_allowed_ips=("196.201.214.0/24",), trusted_proxies=1), demo)
    assert _post(app, {"X-Forwarded-For": "196.201.214.10"})[0] == 200
    assert _post(app, {"X-Forwarded-For": "203.0.113.9"})[0] == 403
    assert _post(app)[0] == 403  # the proxy itself is not the aggregator


def test_forwarded_header_is_ignored_without_trusted_proxies(make_app: Callable[..., Flask], demo: Session) -> None:
    app = _with_db(make_app(ussd_allowed_ips=("196.201.214.0/24",)), demo)
    assert _post(app, {"X-Forwarded-For": "196.201.214.10"}, remote="203.0.113.9")[0] == 403
    assert _post(app, remote="196.201.214.10")[0] == 200


def test_other_service_codes_get_a_polite_end(make_app: Callable[..., Flask], demo: Session) -> None:
    app = _with_db(make_app(ussd_service_codes=("*4242#",)), demo)
    status, body = _post(app, form={**FORM, "serviceCode": "*999#"})
    assert status == 200 and body.startswith("END ")
    assert _post(app, form={**FORM, "sessionId": "code-ok"})[1].startswith("CON ")


def test_session_lives_300_seconds_in_redis(dial: type[Dialer], app: Flask) -> None:
    phone = dial("+212600000001")
    phone.start()
    store = app.extensions["hirfa"].session_store
    ttl = redis.Redis.from_url(REDIS_URL).ttl(store.key("africastalking", phone.session_id))
    assert 290 < ttl <= 300


@pytest.mark.parametrize(
    ("phone_number", "answers", "max_sql"),
    [
        # main menu, first hop: the artisan, and the session's row (a session exists from
        # its first hop: one upsert, the hops between write none)
        ("+212600000001", [], 2),
        ("+212600000001", ["1"], 2),  # status: the artisan, then paid months and amounts
        ("+212600000001", ["1", "98"], 0),  # status, next page: what the session read
        ("+212600000001", ["1", "98", "0"], 0),  # back a page
        ("+212600000002", ["2"], 3),  # dues: the artisan, paid months and amounts, open reference
        ("+212600000002", ["2", "1", "1"], 0),  # the quote of the dues the session read
        ("+212600000003", ["6"], 0),  # language menu: no SQL at all
        # the session's last screen (here: three wrong answers end it): its row, one upsert
        ("+212600000003", ["6", "7", "7", "7"], 1),
    ],
)
def test_a_hop_does_one_redis_read_one_write_and_few_sql(
    dial: type[Dialer],
    db_session: Session,
    monkeypatch: pytest.MonkeyPatch,
    phone_number: str,
    answers: list[str],
    max_sql: int,
) -> None:
    phone = dial(phone_number)
    if answers:
        phone.start()
        phone.send(*answers[:-1])
    with redis_sent(monkeypatch) as (commands, trips), sql_sent(db_session) as sent:
        phone.send(answers[-1]) if answers else phone.start()
    statements = [sql for sql, _ in sent if not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    delta = collections.Counter(command for command in commands if command != "ping")
    assert len(trips) - commands.count("ping") == 2  # one read pipeline, one write pipeline
    # One read pipeline: MGET (the session, the phone's resume point), and the phone's
    # hop count (INCR, EXPIRE: its rate limit). One write pipeline: the session record,
    # with the resume point set or dropped beside it when mid-flow.
    assert (delta.pop("mget"), delta.pop("incrby"), delta.pop("expire")) == (1, 1, 1)
    assert delta.pop("set") in {1, 2}
    assert delta.pop("del", 0) <= 1
    assert not delta
    assert len(statements) <= max_sql, statements


def test_screen_budget_per_aggregator_from_settings(make_app: Callable[..., Flask], demo: Session) -> None:
    app = _with_db(make_app(screen_budgets={"africastalking": (100, 50)}), demo)
    phone = Dialer(lambda url, form: _respond(app, url, form), "+212600000001", key=CALLBACK_KEY)
    phone.start()
    for screen in phone.screens:
        assert len(screen[4:]) <= 50
    assert "98" in phone.screens[0]  # the Arabic main menu no longer fits one page of 50


def _respond(app: Flask, url: str, form: dict[str, str]) -> tuple[int, str]:
    response = app.test_client().post(url, data=form)
    return response.status_code, response.get_data(as_text=True)


def test_redis_keeps_no_typed_text(dial: type[Dialer], app: Flask) -> None:
    phone = dial("+212600000009")
    phone.start()
    key = app.extensions["hirfa"].session_store.key("africastalking", phone.session_id)
    phone.send("1", "JB123456")  # between the two identification hops: a keyed digest only
    raw = redis.Redis.from_url(REDIS_URL).get(key)
    assert raw is not None and b"JB123456" not in raw
    phone.send("1980")
    raw = redis.Redis.from_url(REDIS_URL).get(key)
    assert raw is not None
    assert b"JB123456" not in raw and b"1980" not in raw
    assert phone.replay() == phone.screens[-1]  # replays still recognised, from the keyed mark


def test_what_a_session_read_is_kept_until_it_ends(dial: type[Dialer], app: Flask, db_session: Session) -> None:
    def record(phone: Dialer) -> dict[str, object]:
        raw = redis.Redis.from_url(REDIS_URL).get(
            app.extensions["hirfa"].session_store.key("africastalking", phone.session_id)
        )
        assert raw is not None
        value: dict[str, object] = orjson.loads(raw)
        return value

    phone = dial("+212600000001")
    phone.start()
    phone.send("1")
    memo = record(phone)["memo"]
    assert isinstance(memo, dict) and [key.split(":")[0] for key in memo] == ["status"]
    # The rows change under the session (an agent confirms, staff edit the RNA): this
    # session keeps showing what it read; the next one reads afresh.
    artisan = db_session.scalar(select(Artisan).where(Artisan.phone == phone.phone))
    assert artisan is not None
    artisan.trade = "changed-trade"
    db_session.flush()
    assert "changed-trade" not in phone.send("0", "1", "98", "98")  # the trade: on the last page
    fresh = dial(phone.phone)
    fresh.start()
    assert "changed-trade" in fresh.send("1", "98", "98")
    phone.send("00", "9", "9", "9")  # the third wrong answer ends the session
    assert phone.screens[-1].startswith("END ") and "memo" not in record(phone)


def test_a_live_session_keeps_about_a_kilobyte_in_redis(dial: type[Dialer], app: Flask, redis_prefix: str) -> None:
    # The heaviest live session: the status read, then the dues read (the last read is
    # kept), then a choice inside the task (all due), so that the phone's resume point,
    # kept only from there on, holds four screens; its hop counter beside it. Measured
    # 776 + 296 + 104 = 1,176 bytes: the record's few more bytes (its hop count, for the
    # dashboard's sessions) crossed an allocator size class (648 before; the resume point
    # used to be kept on the dues screen already, with three: 1,016).
    client = redis.Redis.from_url(REDIS_URL)
    phone = dial("+212600000002")
    phone.start()
    phone.send("1", "1", "1")  # status, "1 Pay now" (the dues), "1 Pay all due": the network
    store = app.extensions["hirfa"].session_store
    record = orjson.loads(client.get(store.key("africastalking", phone.session_id)) or b"{}")
    assert [key.split(":")[0] for key in record["memo"]] == ["dues"]
    keys = [store.key("africastalking", phone.session_id), store.resume_key("africastalking", phone.phone)]
    keys += client.keys(f"{redis_prefix}rl:ussd-phone:{phone.phone}:*")
    sizes = [client.memory_usage(key) or 0 for key in keys]
    assert all(sizes[:2]) and sum(sizes) <= 1200, sizes


def test_a_write_forgets_what_the_session_read(dial: type[Dialer], db_session: Session) -> None:
    phone = dial("+212600000001")
    phone.start()
    phone.send("1", "0")
    with sql_sent(db_session) as kept:
        phone.send("1")  # the status again: as the session read it
    phone.send("0", "6", "2")  # French: the language is written
    with sql_sent(db_session) as fresh:
        phone.send("1")
    assert not kept
    assert any("FROM artisans" in sql for sql, _ in fresh), fresh


@pytest.mark.parametrize("committed_app", ["postgresql"], indirect=True)
def test_money_hops_queue_their_sms_within_the_two_round_trips(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full mix's cycle (status, pay, the agent confirms): every hop makes at most 2
    Redis round trips, the two that queue an SMS too: its RQ job goes with the session's
    write (gateway/riders.py), and is on the queue, for the row the hop committed."""
    dispatcher = dispatcher_of(committed_app)
    get_version(dispatcher.redis)  # RQ asks the server's version once per process: not a hop's work
    dispatcher.queue.delete(delete_jobs=True)  # the run's queue: earlier tests' rows had the same ids
    trips_per_hop: list[int] = []

    def hop(phone: Dialer, answers: tuple[str, ...]) -> str:
        with redis_sent(monkeypatch) as (commands, trips):
            screen = phone.send(*answers) if answers else phone.start()
        trips_per_hop.append(len(trips) - commands.count("ping"))
        return screen

    try:
        walk_full_cycle(committed_app, hop)
        assert len(trips_per_hop) == 14 and max(trips_per_hop) == 2, trips_per_hop
        with committed_app.app_context():
            rows = db.get_db().scalars(select(OutboxMessage.id)).all()
        assert len(rows) >= 2  # the reference, the receipts
        assert sorted(dispatcher.queue.job_ids) == sorted(dispatcher.job_id(row) for row in rows)
        job = dispatcher.queue.fetch_job(dispatcher.job_id(rows[0]))
        assert job is not None and job.func_name == SEND_JOB and job.args == [rows[0]]
    finally:
        dispatcher.queue.delete(delete_jobs=True)


@pytest.mark.parametrize("committed_app", ["postgresql"], indirect=True)
def test_jobs_redis_refuses_with_the_hop_are_queued_on_their_own(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job the hop's write could not carry (Redis answered its commands with an error)
    is queued the usual way before the hop ends."""
    dispatcher = dispatcher_of(committed_app)
    built = dispatcher.enqueue_commands

    def refused(outbox_ids: Any) -> Any:
        return [*built(outbox_ids)[:-1], ("NO-SUCH-COMMAND",), ("EXEC",)]  # EXECABORT

    monkeypatch.setattr(dispatcher, "enqueue_commands", refused)
    dispatcher.queue.delete(delete_jobs=True)  # the run's queue: earlier tests' rows had the same ids
    try:
        walk_full_cycle(committed_app, lambda phone, answers: phone.send(*answers) if answers else phone.start())
        with committed_app.app_context():
            rows = db.get_db().scalars(select(OutboxMessage.id)).all()
        assert rows and sorted(dispatcher.queue.job_ids) == sorted(dispatcher.job_id(row) for row in rows)
    finally:
        dispatcher.queue.delete(delete_jobs=True)
