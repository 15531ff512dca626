# Every target creates .venv on first use; nothing needs installing by hand.
# The venv holds the server too (`keyplane[server]`): make run and make test need it.
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST  ?= 127.0.0.1
PORT  ?= 8080

.PHONY: run test bench lint install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[server,dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	@mkdir -p .keyplane
	@$(VENV)/bin/keyplane admin init --organization demo --email admin@example.com --if-empty
	@echo ""
	@echo "keyplane is starting on http://$(HOST):$(PORT)  (database: .keyplane/keyplane.db)"
	@echo "Next, in another shell:"
	@echo "  export KEYPLANE_URL=http://$(HOST):$(PORT) ASTRO_API_TOKEN=<the owner token, printed once on the first start>"
	@echo "  $(VENV)/bin/keyplane whoami"
	@echo "  $(VENV)/bin/keyplane workspace create --name data-eng"
	@echo "Lost the owner token? $(VENV)/bin/keyplane admin token create --organization demo"
	@echo "Web console: $(VENV)/bin/keyplane admin set-password --email admin@example.com"
	@echo "  then sign in at http://$(HOST):$(PORT)/login"
	@echo ""
	@KEYPLANE_PUBLIC_URL=http://$(HOST):$(PORT) KEYPLANE_LOG_FORMAT=$${KEYPLANE_LOG_FORMAT:-text} \
		$(VENV)/bin/keyplane server --host $(HOST) --port $(PORT)

# The suite runs on TEST_WORKERS processes (each with its own PostgreSQL database and
# Redis database number), then the few tests that restart a shared service, alone.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not exclusive"
	$(PY) -m pytest -m exclusive

# The benchmarks' extra (matplotlib, for the chart) only where they run.
BENCH_STAMP := $(VENV)/.bench-$(shell cksum pyproject.toml | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[server,dev,bench]'
	rm -f $(VENV)/.bench-*
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
