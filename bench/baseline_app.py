"""The baseline every Flask+Redis hop is compared with: a minimal Flask app that reads
the form, does one Redis GET and one SET, and answers a screen. Run by bench/hops.py
under gunicorn with 5 sync workers (`gunicorn bench.baseline_app:app`)."""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, request

app = Flask(__name__)
client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
PREFIX = os.environ.get("REDIS_PREFIX", "hirfa-baseline:")


@app.post("/ussd/africastalking")
def hop() -> Response:
    key = PREFIX + request.form["sessionId"]
    client.get(key)
    client.set(key, request.form.get("text", ""), ex=300)
    return Response("CON Hirfa\n1 Status", content_type="text/plain; charset=utf-8")


@app.get("/readyz")
def ready() -> Response:
    return Response("ok", content_type="text/plain")
