# Two commands on a fresh machine: `make up` runs the system, `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test lint format bench clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# axe-core for the accessibility checks of the browser tests (package-lock.json pins it)
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP)

up: install
	$(BIN)/wismo up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# the browser tests' accessibility checks need axe-core (npm); running the system does not
test: lint $(NODE_STAMP)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/pytest

bench: install
	for scenario in throughput latency hops reads fanout sla rebuild scale memory; do $(BIN)/wismo bench $$scenario || exit 1; done

# after a text of the status page or a message changed: re-extract, merge into every language,
# then translate the new entries (tests/test_catalogs.py names what is missing)
messages: install
	for domain in page messages; do \
	  $(BIN)/pybabel extract -q -F wismo/locales/$$domain.cfg -o wismo/locales/$$domain.pot --no-location --omit-header . || exit 1; \
	  for lang in de fr es nl; do \
	    po=wismo/locales/$$lang/LC_MESSAGES/$$domain.po; \
	    if [ -f $$po ]; then $(BIN)/pybabel update -q -D $$domain -i wismo/locales/$$domain.pot -l $$lang -o $$po --no-fuzzy-matching --omit-header; \
	    else $(BIN)/pybabel init -q -D $$domain -i wismo/locales/$$domain.pot -l $$lang -o $$po; fi || exit 1; \
	  done; \
	done

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .wismo .pytest_cache .mypy_cache .ruff_cache .hypothesis
