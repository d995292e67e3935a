# Two commands a newcomer needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The SDK first: the server depends on it, and no package index has this checkout's copy.
	$(BIN)/pip install --quiet -e clients/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the server on its embedded default (SQLite + local disk, no services needed).
## `make run PORT=8080 HOST=0.0.0.0 DATA_DIR=/tmp/uk` (or UPLOADKIT_PORT, UPLOADKIT_HOST,
## UPLOADKIT_DATA_DIR in the environment).
run: $(STAMP)
	$(if $(DATA_DIR),UPLOADKIT_DATA_DIR='$(DATA_DIR)' )$(BIN)/uploadkit serve$(if $(HOST), --host '$(HOST)')$(if $(PORT), --port '$(PORT)')

## Run the whole test suite (SQLite always; PostgreSQL, Redis and S3 when reachable, required when CI=true).
## Most tests wait on sockets, other processes and fsync rather than compute, so more worker
## processes than cores pay off: 4 on 2 cores. `make test TEST_WORKERS=0` runs them in this one.
## The contract tests run after, in one process: their last test checks what the property
## runs before it saw, and pytest-xdist can neither keep a module together in pytest 9
## (`--dist loadgroup`) nor tell schemathesis's items apart (they share one node id).
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --ignore=tests/contract; status=$$?; \
	$(BIN)/python -m pytest tests/contract && exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src clients tests bench
	$(BIN)/ruff format --check src clients tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
