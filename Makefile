# medaid — the commands a developer or an ops team needs. `make run` and `make test` do all
# set-up on a fresh machine with Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := -e shared -e services/registry -e services/settlement

.PHONY: install run test lint fmt bench fuzz lock clean

install: $(STAMP)

$(STAMP): requirements.lock shared/pyproject.toml services/registry/pyproject.toml services/settlement/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "medaid needs Python 3.11 or newer (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps $(PACKAGES)
	touch $(STAMP)

# The ports (MEDAID_REGISTRY_PORT, MEDAID_SETTLEMENT_PORT; default 8001, 8002) are checked
# first, with the system's Python, before anything is installed, migrated or seeded.
run:
	@$(PYTHON) -m scripts.dev --check-ports
	@$(MAKE) --no-print-directory install
	$(BIN)/python -m scripts.dev

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/src services/registry/src services/settlement/src

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run

fuzz: install
	MEDAID_FUZZ_EXAMPLES=500 $(BIN)/pytest tests/fuzz -p no:randomly

# Re-pin every dependency (after editing requirements-dev.in or a pyproject.toml).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -U pip setuptools wheel
	.lock-venv/bin/python -m pip install --quiet -r requirements-dev.in
	.lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(-e|pip==)' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
