"""`flask ussd dial PHONE [ANSWER...]`: a USSD session in the terminal, spoken as Africa's
Talking does.

In-process by default (this app, its database and Redis), or against a running gateway
with `--url`. The answers are given on the command line (each is sent in turn, then the
phone hangs up) or typed at each screen. Every answer goes to the real callback, with
`text` holding all answers so far joined by `*`; the end-of-session notification follows
(`Success` after an END, `Incomplete` when you hang up with Ctrl-D or Ctrl-C or the
answers run out first), so a hang-up can be resumed.

Or over SMPP with `--smsc http://127.0.0.1:2776`: the control port of the test SMSC
(`make smsc`) sends each answer as a `deliver_sm` with `ussd_service_op` on the bind of
`flask smpp run`, and the screen shown is the `submit_sm` that comes back. SMPP reports
no hang-up: a session left unanswered is simply cut off."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.phones import InvalidPhone, typed_e164
from gateway.sms.smpp import USSD_PSSR_RESPONSE, USSD_USSR_CONFIRM
from gateway.wiring import hirfa

ussd_cli = AppGroup("ussd", help="Try the USSD menus from the terminal.")

Post = Callable[[str, dict[str, str]], tuple[int, str]]


def _e164(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return typed_e164(value)
    except InvalidPhone as error:
        raise click.BadParameter(str(error)) from error


def _in_process() -> Post:
    client = current_app.test_client()

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, data=form)
        return response.status_code, response.get_data(as_text=True)

    return post


def _over_http(base: str) -> Post:
    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 - the operator's own gateway URL
            base.rstrip("/") + path,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "hirfa-ussd-dial/1.0"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")
        except OSError as error:
            raise click.ClickException(f"cannot reach {base}: {error}") from error

    return post


@ussd_cli.command("dial")
@click.argument("phone", callback=_e164)
@click.argument("answers", nargs=-1)
@click.option("--code", default=None, help="Short code dialed (default: the first of USSD_SERVICE_CODES, or *4242#).")
@click.option("--url", default=None, help="A running gateway, e.g. http://127.0.0.1:5000 (default: in-process).")
@click.option("--key", default=None, help="Its callback key (default: this app's USSD_CALLBACK_KEY).")
@click.option(
    "--smsc",
    default=None,
    help="Over SMPP instead: the control URL of `make smsc` (http://127.0.0.1:2776); `flask smpp run` bound to it.",
)
@click.option(
    "--network", default="60401", show_default=True, help="Network: 60400 Orange, 60401 Maroc Telecom, 60402 inwi."
)
def dial_command(
    *,
    phone: str,
    answers: tuple[str, ...],
    code: str | None,
    url: str | None,
    key: str | None,
    smsc: str | None,
    network: str,
) -> None:
    """Dial the short code from PHONE and answer each screen: with ANSWERS, one after the
    other, then hang up (e.g. `dial +212600000001 1 98`); without, as you type them
    (Ctrl-D or Ctrl-C hangs up)."""
    settings = hirfa().settings
    code = code or settings.short_code
    if smsc:
        _dial_over_smpp(smsc, phone, code, iter(answers) if answers else None)
        return
    query = "?" + urllib.parse.urlencode({"key": key or settings.ussd_callback_key})
    post = _over_http(url) if url else _in_process()
    session_id = "ATUid_cli_" + uuid.uuid4().hex
    typed: list[str] = []
    started, hops, body, status = time.monotonic(), 0, "", "Incomplete"
    scripted = iter(answers) if answers else None
    where = "in-process" if url is None else url
    click.echo(f"Dialing {code} from {phone} ({where})." + ("" if scripted else " Ctrl-D hangs up."))
    while True:
        form = {
            "sessionId": session_id,
            "serviceCode": code,
            "phoneNumber": phone,
            "networkCode": network,
            "text": "*".join(typed),
        }
        http_status, body = post("/ussd/africastalking" + query, form)
        hops += 1
        if http_status != 200 or not body.startswith(("CON ", "END ")):
            status = "Failed"
            click.secho(f"HTTP {http_status}: {body[:200]}", fg="red", err=True)
            break
        click.echo("\n" + _framed(body[4:]))
        if body.startswith("END "):
            status = "Success"
            if unsent := list(scripted or ()):
                click.echo(f"The session ended; not sent: {' '.join(unsent)}", err=True)
            break
        answer = _next_answer(scripted)
        if answer is None:
            click.echo("\nHung up.")
            break
        typed.append(answer)
    ended = {
        "sessionId": session_id,
        "phoneNumber": phone,
        "serviceCode": code,
        "networkCode": network,
        "status": status,
        "durationInMillis": str(int((time.monotonic() - started) * 1000)),
        "hopsCount": str(hops),
        "input": "*".join(typed),
        "lastAppResponse": body,
        "errorMessage": "" if status != "Failed" else "invalid response",
        "cost": "MAD 0.00",
        "date": f"{hirfa().clock().astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}",
    }
    post("/ussd/africastalking/events" + query, ended)
    if status == "Failed":
        raise SystemExit(1)


def _dial_over_smpp(control: str, phone: str, code: str, scripted: Iterator[str] | None) -> None:
    """The caller's side over SMPP: each answer goes to the test SMSC's control port, which
    sends it as a deliver_sm (ussd_service_op 1 for the dial, 18 after) on the bind of
    `flask smpp run`; the screen is the submit_sm that comes back (op 2 waits, 17 ends)."""
    msisdn, short_code = phone.lstrip("+"), code.strip("*#").split("*")[0]
    session = secrets.randbelow(256)
    click.echo(f"Dialing {code} from {phone} over SMPP ({control})." + ("" if scripted else " Ctrl-D hangs up."))
    text, op = code, 1
    for turn in range(128):
        before = len(_smsc_screens(control, msisdn))
        query = {
            "from": msisdn,
            "to": short_code,
            "text": text,
            "op": str(op),
            "session": f"{session:02x}{turn << 1:02x}",
        }
        found = _smsc_call(control, "/ussd?" + urllib.parse.urlencode(query), "POST")
        if not found.get("sessions"):
            raise click.ClickException("the SMSC has no bound client: start `flask smpp run` against it")
        deadline = time.monotonic() + 15
        while len(screens := _smsc_screens(control, msisdn)) == before:
            if time.monotonic() > deadline:
                raise click.ClickException("no answer from Hirfa within 15 s (is `flask smpp run` bound?)")
            time.sleep(0.05)
        screen = screens[-1]
        click.echo("\n" + _framed(str(screen.get("message", ""))))
        if screen.get("ussd_service_op") == USSD_PSSR_RESPONSE:
            return
        answer = _next_answer(scripted)
        if answer is None:
            click.echo("\nHung up.")
            return
        text, op = answer, USSD_USSR_CONFIRM


def _smsc_call(control: str, path: str, method: str) -> Any:
    request = urllib.request.Request(control.rstrip("/") + path, method=method)  # noqa: S310 - our own test SMSC
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())
    except OSError as error:
        raise click.ClickException(f"cannot reach the SMSC's control port {control}: {error}") from error


def _smsc_screens(control: str, msisdn: str) -> list[dict[str, Any]]:
    """The USSD submit_sm the SMSC received for `msisdn`, oldest first."""
    pdus = _smsc_call(control, "/pdus", "GET")
    return [
        pdu
        for pdu in pdus
        if pdu.get("kind") == "submit"
        and pdu.get("ussd_service_op") is not None
        and pdu.get("destination_addr") == msisdn
    ]


def _next_answer(scripted: Iterator[str] | None) -> str | None:
    """The next answer, from the command line or typed; None hangs up."""
    if scripted is not None:
        answer = next(scripted, None)
        if answer is not None:
            click.echo(f"> {answer}")
        return None if answer is None else answer.strip()
    try:
        return str(click.prompt("", prompt_suffix="> ", default="", show_default=False)).strip()
    except click.Abort:
        return None


def _framed(screen: str) -> str:
    lines = screen.splitlines() or [""]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])
