# The two commands a newcomer types:  make demo   and   make test
# Both install what they need first (a virtualenv from constraints.txt, dynalite from npm).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck bench clean

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js is required for the local DynamoDB server (dynalite)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(VENV)/bin/ppstack demo

test: setup
	$(VENV)/bin/ruff check src tests bench scripts infra
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts infra

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf .ppstack .pytest_cache .hypothesis cdk.out
