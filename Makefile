# certq's commands: one target per job (see docs/ and CONTRIBUTING.md).
# Every target sees the same service URLs; set them in the environment to
# use other servers.

export REDIS_URL ?= redis://127.0.0.1:6379/0
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/certq

VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.certq-installed
CODE := certq service actors tests
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: setup run demo test test-fast lint typecheck bench clean

setup: $(INSTALLED)
	scripts/services.sh ensure
	$(BIN)/certq migrate

run: export PORT ?= 8000
# honcho kills whatever still runs 5 s after Ctrl-C; a worker needs up to
# twice its grace to stop, so the grace must stay under 2.5 s here.
run: export CERTQ_SHUTDOWN_GRACE_SECONDS ?= 2
run: setup
	$(BIN)/honcho start

demo: setup
	$(BIN)/python -m certq.demo

# No `|| true` anywhere: pytest's exit code 5 (no tests collected) fails too.
test: setup
	$(PYTEST)

test-fast: setup
	$(PYTEST) -m "not slow"

lint: $(INSTALLED)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/ruff check $(CODE)

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict $(CODE)

bench: setup
	$(BIN)/python -m certq.bench

# Stops the local servers setup started and deletes their data; keeps the venv.
clean:
	scripts/services.sh stop
	rm -rf .run build bench-results *.egg-info .mypy_cache .pytest_cache .ruff_cache
	find $(CODE) -name __pycache__ -prune -exec rm -rf {} +

# Debian ships venv's pip bootstrap in python3-venv; fetch it when we may.
$(BIN)/python:
	python3 -m venv $(VENV) || { rm -rf $(VENV) && [ "$$(id -u)" = 0 ] && \
	  apt-get update -q && apt-get install -y -q python3-venv && python3 -m venv $(VENV); }

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@
