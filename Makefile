# Quickstart: `make demo` runs the bot's main job offline; `make test` runs the suite.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c "import bot, handlers, scheduling, providers, slack_bolt, pytest, xdist, importlinter"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/outreach demo

# The SMTP/IMAP provider is tested against a real Dovecot on loopback (Debian's dovecot-imapd).
test: $(STAMP)
	@[ -x /usr/sbin/dovecot ] || { echo "installing dovecot-imapd for the IMAP tests" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null 2>&1 || \
	  echo "could not install dovecot-imapd: the IMAP tests will fail; run: sudo apt-get install dovecot-imapd" >&2; }
	$(BIN)/lint-imports --no-cache  # the import contracts in pyproject.toml (README "Architecture")
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

# Every bench/*.py, on SQLite and on PostgreSQL as the tests get it (OUTREACH_TEST_DATABASE_URL, else
# the local server CI uses when it answers); each script's lines also go to bench/results/NAME-DATE.jsonl.
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/test
bench: $(STAMP)
	@if [ -z "$$OUTREACH_TEST_DATABASE_URL" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then \
	  export OUTREACH_TEST_DATABASE_URL=$(BENCH_PG); fi; \
	mkdir -p bench/results; \
	for script in bench/[!_]*.py; do \
	  name=$$(basename "$$script" .py); echo "== $$name" >&2; \
	  $(BIN)/python "$$script" | tee "bench/results/$$name-$$(date +%F).jsonl"; \
	done

lint: $(STAMP)
	$(BIN)/python -m pyflakes bot handlers scheduling providers bench tests
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var .pytest_cache
