# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
ENV := source ./env.sh &&
PORT ?= 3000

.PHONY: install run dev run-prod run-redis test test-fast lint bench demo clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# Reflex builds its frontend with bun; bun comes from the npm registry (no downloads
# from elsewhere). REFLEX_USE_SYSTEM_BUN in env.sh makes Reflex use this one.
tools/bun/bin/bun:
	npm install -g --prefix "$(CURDIR)/tools/bun" bun@1.4.4

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# axe-core, pinned from the npm registry: the e2e suite injects it into every page it checks.
AXE_VERSION := 4.14.1
tools/axe/.installed-$(AXE_VERSION):
	npm install --prefix "$(CURDIR)/tools/axe" axe-core@$(AXE_VERSION) --no-audit --no-fund
	touch $@

install: $(VENV)/.installed tools/bun/bin/bun tools/axe/.installed-$(AXE_VERSION)

# The app in production mode on one port, on the embedded SQLite database
# (data/clinic.db), upgraded to the newest schema, with the demo clinic on first run.
run: install
	$(ENV) python -m clinic_app demo --if-empty
	@echo "Serving the clinic app on http://localhost:$(PORT) (production mode; Ctrl-C stops it)"
	$(ENV) reflex run --env prod --single-port --frontend-port $(PORT)

# Hot-reloading dev server: frontend :3000, backend :8000.
dev: install
	$(ENV) python -m clinic_app demo --if-empty
	$(ENV) reflex run --env dev --backend-host 127.0.0.1

# Production mode: PostgreSQL (DATABASE_URL; created, upgraded to the newest schema and
# given the demo clinic if missing or empty) and Redis (REDIS_URL) with WORKERS backend
# workers that share client states in Redis and the live bus over Redis pub/sub.
PROD_DATABASE_URL := postgresql+psycopg://postgres@127.0.0.1:5432/clinic
PROD_REDIS_URL := redis://127.0.0.1:6379/0
WORKERS ?= 2
run-prod: install
	$(ENV) export DATABASE_URL="$${DATABASE_URL:-$(PROD_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(PROD_REDIS_URL)}" && \
	  export REFLEX_REDIS_URL="$${REFLEX_REDIS_URL:-$$REDIS_URL}" GRANIAN_WORKERS="$${GRANIAN_WORKERS:-$(WORKERS)}" && \
	  python -m clinic_app demo --if-empty && \
	  echo "Serving the clinic app on http://localhost:$(PORT) (production mode, $$GRANIAN_WORKERS workers, $$DATABASE_URL, $$REDIS_URL; Ctrl-C stops it)" && \
	  reflex run --env prod --single-port --frontend-port $(PORT)

# The former name of run-prod.
run-redis: run-prod

demo: install
	$(ENV) python -m clinic_app demo --reset

lint: install
	$(ENV) ruff check .

test: install /usr/bin/chromium
	$(ENV) ruff check .
	$(ENV) python -m pytest

bench: install
	$(ENV) python bench/live_latency.py

clean:
	rm -rf .web .states data .pytest_cache
