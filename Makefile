# The two commands of the README: `make run` (install + web chat) and `make test` (install + all checks).
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned by constraints.txt: any other version pulls several GB of CUDA wheels.
INSTALL := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: run install install-test browser lint test test-llm

$(BIN)/python:
	python3 -m venv $(VENV)

install: $(BIN)/python
	$(INSTALL) -e .

run: install
	$(BIN)/citechat serve

install-test: $(BIN)/python
	$(INSTALL) -e ".[test]"

# The browser test drives Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: install-test
	$(BIN)/ruff check ingest rag ui tests bench
	$(BIN)/mypy ingest rag ui

test: install-test browser lint
	$(BIN)/pytest

# The real-model tier, not part of `make test`: a local llama.cpp server (built by setup-local-llm.sh into
# CITECHAT_LLM_DIR) answers the gold set through `citechat eval`, then the `llm` tests run against it.
CITECHAT_LLM_DIR ?= .llm
export CITECHAT_LLM_DIR
test-llm: install-test
	$(BIN)/python tests/local_llm.py sh -c \
		'$(BIN)/citechat eval --docs ingest/sample -v && $(BIN)/pytest -m llm tests/test_real_llm.py'
