# The two commands of the README: `make run` (demo on the embedded default) and
# `make test` (lint, types, the whole suite on real PostgreSQL and Redis).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test install install-dev lint typecheck debian speech smsc-deps smsc messages bench drills cluster cluster-stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Unset, HIRFA_ENV means production (fail closed): each target that runs the app says development.
run bench drills cluster: export HIRFA_ENV = development

# The voice line's prompts are fetched from the port it serves on.
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install speech
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load
	@echo "Dial the demo: HIRFA_ENV=development $(BIN)/flask --app wsgi ussd dial --url http://127.0.0.1:$(PORT) +212600000001 1"
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT) --with-threads

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the import contracts of pyproject.toml (docs/style.md's arrows)

typecheck: install-dev
	$(BIN)/mypy

test: lint typecheck debian smsc-deps
	$(BIN)/pytest

# The test SMSC: the npm package smpp (tests/smsc/package-lock.json), run by the SMPP tests.
smsc-deps:
	test -d tests/smsc/node_modules/smpp || (cd tests/smsc && npm ci --no-audit --no-fund)

# A local SMSC to try `flask smpp run` by hand: binds as hirfa / secret on 127.0.0.1:2775,
# control port 2776 (GET /pdus, POST /receipt?id=…&stat=DELIVRD, /deliver?from=…&text=STOP).
smsc: smsc-deps
	node tests/smsc/server.js --port 2775 --control 2776 --system-id hirfa --password secret

# Debian packages the tests drive, installed when missing: Chromium (tests/e2e: Playwright's
# own download does not work here), msgfmt (catalogue checks), espeak-ng (the voice line's
# development text-to-speech), redis-sentinel (the high-availability tests: tests/sentinels.py),
# haproxy (the cluster drills of tests/drills, `make cluster`).
SPEECH_NEEDS := /usr/bin/espeak-ng:espeak-ng
DEBIAN_NEEDS := $(SPEECH_NEEDS) /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver \
	/usr/bin/msgfmt:gettext /usr/bin/redis-sentinel:redis-sentinel /usr/sbin/haproxy:haproxy
# $(call apt_missing,PATH:PACKAGE ...): apt-get install the packages whose file is missing.
apt_missing = missing="$(foreach need,$(1),$(if $(wildcard $(firstword $(subst :, ,$(need)))),,$(lastword $(subst :, ,$(need)))))"; \
	if [ -n "$$(echo $$missing)" ]; then apt-get update && apt-get install -y $$missing; fi
debian:
	@$(call apt_missing,$(DEBIAN_NEEDS))
# What `make run` needs of them: the voice line's development text-to-speech.
speech:
	@$(call apt_missing,$(SPEECH_NEEDS))

# Refresh the message template after changing texts; then update every catalogue (ar, fr, and the voice ones: ary, shi, tzm, rif).
messages: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t -o menus/locale/messages.pot --no-location --omit-header --no-wrap .
	$(BIN)/pybabel update -i menus/locale/messages.pot -d menus/locale --no-wrap --ignore-obsolete

bench: install-dev debian smsc-deps
	command -v wrk >/dev/null || apt-get install -y wrk
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/hops.py
	$(BIN)/python bench/profile_hops.py --work
	$(BIN)/python bench/confirm.py
	$(BIN)/python bench/smpp.py
	$(BIN)/python bench/voice.py

# Fault drills on private Redis/PostgreSQL instances (never the shared ones): see drills/.
drills: install-dev
	$(BIN)/python -m drills.run

# The highly available topology on this machine (Redis + replica + 3 Sentinels, PostgreSQL +
# streaming standby, 2 web instances behind HAProxy, a worker, the clock), in the background
# on free ports; prints where it is and how to dial it. `make cluster-stop` ends it.
cluster: install debian
	$(BIN)/python -m drills.cluster start

cluster-stop:
	$(BIN)/python -m drills.cluster stop

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache
