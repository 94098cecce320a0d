# The two commands of the README:
#   make run    set up a virtualenv and serve development.ini (in-memory engine, no Redis)
#   make test   set up everything the tests need and run lint, types and the whole suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test setup setup-test lint

$(VENV)/.installed: setup.py clients/python/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	$(PY) -m pip install -q -e ./clients/python
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/pserve development.ini

setup-test: setup
	bash scripts/install-test-deps.sh

lint: setup
	$(VENV)/bin/ruff check channelstream tests bench demo clients/python
	$(VENV)/bin/ruff format --check channelstream tests demo clients/python
	$(VENV)/bin/mypy

test: setup-test lint
	$(VENV)/bin/pytest
