# Every target installs what it needs first (idempotent: a stamp file tracks the requirements).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TENANT ?= org-dev
USER ?= dev-user
# pytest-xdist worker processes for `make test` (each starts its own emulator
# pair when it first needs one); 0 runs the suite in one process.
TEST_WORKERS ?= 3
# `make check`'s Java-free tests compute rather than wait: one worker a core.
CHECK_WORKERS ?= 2

.PHONY: install clients clients-check lint typecheck workflows-check workflows-snapshot check test dev emulators api worker doctor token bundle infra-check bench clean

# uv (pinned in requirements-bootstrap.txt) installs the pinned requirements:
# in parallel and from its per-user cache: seconds where pip took over a
# minute. It byte-compiles them once, on both cores (~12 s of CPU): without
# the .pyc files every Python process compiled what it imported from source
# (and never kept it where PYTHONDONTWRITEBYTECODE is set, as on these
# machines): each api/worker process a test starts paid ~1.0 s of CPU
# importing instead of ~0.5 s, ~150 of them per `make test`.
$(STAMP): requirements.txt requirements-dev.txt requirements-bootstrap.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bootstrap.txt
	$(BIN)/uv pip install --quiet --native-tls --compile-bytecode --python $(BIN)/python -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The frontend's TypeScript types (clients/typescript): openapi-typescript and
# tsc pinned by its package-lock.json, installed with npm ci.
TS := clients/typescript
TS_STAMP := $(TS)/node_modules/.installed

$(TS_STAMP): $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(TS_STAMP)

# Regenerate openapi.json and api.d.ts after changing a route or a model (then commit them).
clients: install $(TS_STAMP)
	$(BIN)/python -m devtools.typescript_client generate

# Fails with a diff if the committed types are stale; type-checks docs/api.md's example.
clients-check: install $(TS_STAMP)
	$(BIN)/python -m devtools.typescript_client check

# ruff, then the import contracts in .importlinter (the layering; docs/architecture.md).
LINT = $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-cache

lint: install
	$(LINT)

TYPECHECK = $(BIN)/mypy shared devtools tests bench && $(BIN)/mypy functions/api/main.py \
	&& $(BIN)/mypy functions/worker/main.py

typecheck: install
	$(TYPECHECK)

# Fails, naming each change and what it does to runs in flight, when a workflow's
# declaration differs from shared/workflows/versions.json (docs/architecture.md,
# "Deploys and reruns"); `make workflows-snapshot` records the change on purpose.
WORKFLOWS_CHECK = $(BIN)/python -m devtools.workflows_check

workflows-check: install
	$(WORKFLOWS_CHECK)

workflows-snapshot: install
	$(BIN)/python -m devtools.workflows_check --update

# The inner loop (under a minute): lint, types, and every test that needs no
# Java; a test that starts the emulators unmarked fails here (tests/helpers/partition.py).
check: lint typecheck workflows-check $(TS_STAMP)
	$(BIN)/pytest -q --no-java -n $(CHECK_WORKERS) --dist loadgroup

# The whole suite: lint, types, every test on the real emulators (started on
# free ports by each test worker), and the offline infrastructure checks.
# Tests go to whichever worker is free; a module whose tests share a fixture
# stays on one worker (tests/helpers/distribution.py). Lint, the workflow
# declarations, the types and the infrastructure checks (mostly installing
# checkov and reading the provider schema: waiting more than computing) run
# beside the tests, which leave a core idle while they wait; their output
# follows the tests', and any of them failing fails the target. The project's
# own modules are byte-compiled first (a quarter of a second): the ~150
# api/worker processes the tests start would each compile them from source
# where PYTHONDONTWRITEBYTECODE is set (~0.04-0.09 s of CPU each).
test: install $(TS_STAMP)
	@mkdir -p .dev; \
	$(BIN)/python -m compileall -q shared functions devtools tests/helpers > /dev/null; \
	( $(LINT) ) > .dev/lint.log 2>&1 & linted=$$!; \
	( $(WORKFLOWS_CHECK) ) > .dev/workflows-check.log 2>&1 & declared=$$!; \
	( $(TYPECHECK) ) > .dev/typecheck.log 2>&1 & types=$$!; \
	$(BIN)/python -m devtools.infra_check > .dev/infra-check.log 2>&1 & infra=$$!; \
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup; tests=$$?; \
	wait $$linted; lint=$$?; echo "== make lint (exit $$lint)"; cat .dev/lint.log; \
	wait $$declared; workflows=$$?; echo "== make workflows-check (exit $$workflows)"; \
	cat .dev/workflows-check.log; \
	wait $$types; typed=$$?; echo "== make typecheck (exit $$typed)"; cat .dev/typecheck.log; \
	wait $$infra; checked=$$?; echo "== infra_check (exit $$checked)"; cat .dev/infra-check.log; \
	test $$tests -eq 0 && test $$lint -eq 0 && test $$workflows -eq 0 \
		&& test $$typed -eq 0 && test $$checked -eq 0

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
	rm -rf dist .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
