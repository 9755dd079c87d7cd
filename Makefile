# The two commands of the README: `make demo` and `make test`. Each creates .venv/ from the
# project's own files (pyproject.toml + uv.lock) on a fresh machine.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV_ON_PATH := $(shell command -v uv 2>/dev/null)
ifeq ($(UV_ON_PATH),)
UV := $(CURDIR)/.tools/bin/uv
UV_DEP := .tools/bin/uv
else
UV := $(UV_ON_PATH)
UV_DEP :=
endif
export UV_PYTHON_DOWNLOADS := never
# uv would otherwise look for a newer Python; use the one this machine has.
export UV_PYTHON := $(shell command -v $(PYTHON))

# The demo's bucket; tests pass a temporary folder so that `make test` never touches build/.
DEMO_DIR ?= build/demo
EXAMPLES := $(wildcard examples/*.html examples/*.txt examples/*.xml)

.PHONY: demo lint test test-unit test-integration quality bench bench-clean bench-classify bench-search lint-compose clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on these machines) nothing would
# ever cache bytecode, and every command would compile ~200 modules again (0.35 s of the 1 s
# that `copydesk status` may take).
.venv/.synced: pyproject.toml uv.lock $(UV_DEP)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

demo: .venv/.synced
	rm -rf $(DEMO_DIR)
	mkdir -p $(DEMO_DIR)/incoming
	cp $(EXAMPLES) $(DEMO_DIR)/incoming/
	COPYDESK_LOG_LEVEL=WARNING .venv/bin/copydesk run $(DEMO_DIR) --once
	@echo
	@echo 'Search what was processed:  COPYDESK_STORE=file://$(abspath $(DEMO_DIR)) .venv/bin/copydesk search "budget"'

# Style and type checks (configured in pyproject.toml); CI runs them before the tests.
lint: .venv/.synced
	.venv/bin/ruff check .
	.venv/bin/mypy

test: .venv/.synced
	.venv/bin/pytest

test-unit: .venv/.synced
	.venv/bin/pytest -m "not integration"

test-integration: .venv/.synced
	.venv/bin/pytest -m integration

bench: bench-clean bench-classify bench-search

.venv/.bench: pyproject.toml uv.lock $(UV_DEP)
	$(UV) sync --frozen --group bench
	@touch $@ .venv/.synced

bench-clean: .venv/.bench
	.venv/bin/python bench/clean.py

bench-classify: .venv/.bench
	.venv/bin/python bench/classify.py

bench-search: .venv/.bench
	.venv/bin/python bench/search.py

clean:
	rm -rf .venv .tools build .pytest_cache
