# Every target installs what it needs first (idempotent: a stamp file tracks the requirements).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TENANT ?= org-dev
USER ?= dev-user

.PHONY: install lint typecheck test dev emulators api worker doctor token bundle infra-check bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared devtools
	$(BIN)/mypy functions/api/main.py
	$(BIN)/mypy functions/worker/main.py

# The whole suite: lint, types, tests on the real emulators (started on free
# ports by the test session), and the offline infrastructure checks.
test: lint typecheck
	$(BIN)/pytest -q
	$(BIN)/python -m devtools.infra_check

dev: install
	$(BIN)/python -m devtools.dev dev

emulators: install
	$(BIN)/python -m devtools.emulators

api: install
	$(BIN)/python -m devtools.dev api

worker: install
	$(BIN)/python -m devtools.dev worker

# What is misconfigured or stuck in the local stack, and the fix (Cloud: python -m devtools.doctor --project P --region R).
doctor: install
	$(BIN)/python -m devtools.doctor

token: install
	@$(BIN)/python -m devtools.devauth token --tenant "$(TENANT)" --user "$(USER)"

bundle: install
	$(BIN)/python -m devtools.bundle

infra-check: install
	$(BIN)/python -m devtools.infra_check

bench: install
	$(BIN)/python -m bench.brainstorm

clean:
	rm -rf dist .pytest_cache .mypy_cache .ruff_cache
