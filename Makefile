# Faultline: `make run` serves a demo on 127.0.0.1:$(PORT); `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
export FAULTLINE_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint format venv clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per dependency set, remade when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed-run

# Collected (and compressed) static files, redone only when the installed packages change.
STATIC_MANIFEST := $(or $(FAULTLINE_DATA_DIR),var)/static/staticfiles.json
$(STATIC_MANIFEST): $(VENV)/.installed-run
	$(PY) manage.py collectstatic --no-input --verbosity 0

run: $(VENV)/.installed-run $(STATIC_MANIFEST)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap --org demo --team demo --project demo --platform python --user admin
	@echo "Serving Faultline on $(FAULTLINE_BASE_URL) (admin: $(FAULTLINE_BASE_URL)/admin/)"
	$(PY) manage.py serve --bind $(HOST):$(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The real @sentry/node for the client tests (skipped by them when Node.js is missing).
NODE_CLIENT := tests/ingest/clients/node
$(NODE_CLIENT)/node_modules/.installed: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	if command -v npm >/dev/null; then \
		npm ci --prefix $(NODE_CLIENT) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the @sentry/node tests will be skipped"; fi

# Debian's chromium for the browser tests (skipped by them when it is missing); installing
# it takes root and Debian's package sources.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "chromium not found: the browser tests will be skipped"; fi

test: lint $(NODE_CLIENT)/node_modules/.installed browser
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
