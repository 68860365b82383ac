# Everything runs from the project's own virtualenv, made on first use.
# The editable install is redone only when pyproject.toml changes (stamp: .venv/.installed).

VENV    := .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST  := $(PYTHON) -m pytest
SCENARIOS ?= ../shared/scenarios tests/scenarios

SYSTEM  := scripts/system-packages

.PHONY: system install run test test-unit test-integration test-e2e lint scenarios clean

# Debian packages the tests need (PostgreSQL, Graphviz, Chromium): installed as root, else the command to run.
system:
	@$(SYSTEM)

install: $(STAMP)

$(PYTHON):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/complaints serve

test: system $(STAMP)
	$(PYTEST) -q

test-unit: $(STAMP)
	$(PYTEST) -q tests/unit

test-integration: system $(STAMP)
	$(PYTEST) -q tests/integration

test-e2e: system $(STAMP)
	$(PYTEST) -q tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .

scenarios: $(STAMP)
	$(VENV)/bin/complaints scenario run $(SCENARIOS)

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
