# The two commands of the README:
#   make run    set up a virtualenv with what serving needs and serve development.ini
#   make test   set up everything the tests need and run lint, types and the whole suite
#   make unit   the fast tier: every test that runs in this process (no server, no Redis,
#               no browser), in well under a minute
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test unit setup setup-run setup-test lint

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# What serving needs: channelstream and its install_requires, as `pip install channelstream`.
$(VENV)/.installed-run: setup.py | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

# Everything else the tests and the linters need (the Python client too: its tests run).
$(VENV)/.installed-test: setup.py clients/python/pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test,dev]'
	$(PY) -m pip install -q -e ./clients/python
	touch $(VENV)/.installed-run $@

setup-run: $(VENV)/.installed-run

setup: $(VENV)/.installed-test

run: setup-run
	$(VENV)/bin/pserve development.ini

setup-test: setup
	bash scripts/install-test-deps.sh

lint: setup
	$(VENV)/bin/ruff check channelstream tests bench demo clients/python
	$(VENV)/bin/ruff format --check channelstream tests demo clients/python
	$(VENV)/bin/mypy

test: setup-test lint
	$(VENV)/bin/pytest

unit: setup
	$(VENV)/bin/pytest -m "not process" -q
