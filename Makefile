# Quick start: `make demo` runs the demo, `make test` runs everything CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBS ?= sqlite postgres mariadb

.PHONY: demo screenshots test lint check test-sqlite test-postgres test-mariadb services bench clean messages

$(BIN)/.installed: pyproject.toml
	bash .ci/system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

services:
	bash .ci/services.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy djtriggers dashboard

check: venv
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django makemigrations --check --dry-run

# Coverage is measured on the SQLite run (in-process code; worker subprocesses are not counted):
# every branch of djtriggers and dashboard, but lines marked `# pragma: no cover - <why>`.
COVERAGE := --cov --cov-branch --cov-report=term-missing:skip-covered --cov-fail-under=100

test: venv services lint check
	@for db in $(DBS); do \
		echo "=== tests on $$db ==="; \
		cov=""; [ $$db = sqlite ] && cov="$(COVERAGE)"; \
		DJTRIGGERS_TEST_DB=$$db $(BIN)/pytest $$cov $(PYTEST_ARGS) || exit 1; \
	done

test-%: venv services
	DJTRIGGERS_TEST_DB=$* $(BIN)/pytest $(PYTEST_ARGS)

# The translations: one catalogue for both apps, djtriggers/locale/<language>/LC_MESSAGES/.
# makemessages reads djtriggers/, dashboard/ and templates/ (LOCALE_PATHS in
# tests/settings.py sends all their strings to that catalogue) and merges them into
# django.po; translate what it adds, then run this again to compile the django.mo
# that ships (and is committed). tests/test_translations.py checks both are complete.
LANGUAGES ?= nl
I18N_SKIP := .* tests demo bench build dist node_modules *.egg-info static
DJANGO := DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django

messages: venv
	$(DJANGO) makemessages $(addprefix --locale=,$(LANGUAGES)) --add-location=file --no-obsolete \
		$(foreach p,$(I18N_SKIP),--ignore='$(p)')
	$(DJANGO) compilemessages $(addprefix --locale=,$(LANGUAGES)) $(foreach p,$(I18N_SKIP),--ignore='$(p)')

demo: venv
	$(BIN)/python demo/run.py

# The README's pictures (demo/screenshots/), from fresh demo data in a throwaway database.
screenshots: venv
	$(BIN)/python demo/screenshots.py

bench: venv services
	$(BIN)/python bench/process_triggers.py

clean:
	rm -rf $(VENV) build dist *.egg-info demo.sqlite3 test*.sqlite3
