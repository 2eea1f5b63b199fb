# Two commands set up a fresh machine: `make demo` (the main job) and `make test`.
# Both install into a project virtualenv ($(VENV)), created when missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

# ../shared (beside the checkout) holds the test model and datasets on this project's
# machines. When it is there and CROSSRANK_MODEL is unset, the demo uses that model;
# elsewhere crossrank's hub default applies.
SHARED_MODEL := ../shared/models/minilm-l6-reranker
SHARED_DATA := ../shared/data
ifeq ($(origin CROSSRANK_MODEL), undefined)
ifneq ($(wildcard $(SHARED_MODEL)/config.json),)
export CROSSRANK_MODEL := $(SHARED_MODEL)
endif
endif
CROSSRANK_TEST_MODEL ?= $(if $(wildcard $(SHARED_MODEL)/config.json),$(SHARED_MODEL),)
CROSSRANK_TEST_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

.PHONY: install demo test test-offline lint

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, keeps pip on the CPU wheel.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/crossrank demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	CROSSRANK_TEST_MODEL=$(CROSSRANK_TEST_MODEL) CROSSRANK_TEST_DATA=$(CROSSRANK_TEST_DATA) \
		$(BIN)/python -m pytest

# The fast offline suite: no real model, no datasets.
test-offline: install
	$(BIN)/python -m pytest -m "not model and not data"
