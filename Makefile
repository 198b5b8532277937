# Two commands for a fresh Debian/Ubuntu machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tinyflash-installed
PYTEST_ARGS ?=
# pytest-xdist: two workers (the suite's machines have two cores), whole files per worker so a
# module's fixtures (firmware builds, conversions) run once. JOBS=0 runs in one process.
# Files go out in the order tests/conftest.py gives them (longest first), not most-tests-first.
JOBS ?= 2
PYTEST_JOBS := $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadfile --no-loadscope-reorder)
C_SOURCES = $(shell find firmware tests/c tests/fuzz -name '*.c' -o -name '*.h' -o -name '*.cpp')

.PHONY: setup demo lint format test test-fast fuzz clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap-system.sh
	bash scripts/bootstrap-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,farm]'
	touch $@

demo: setup
	$(VENV)/bin/tinyflash deploy examples/digits/digits.keras --data examples/digits/calibration.npz --board mps2-an386 -o build/demo --force

# ruff (lint and format check) and mypy, configured in pyproject.toml, and clang-format's check of
# the C sources (.clang-format); `make test` runs it first.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@echo 'clang-format --dry-run --Werror <the C sources>'
	@clang-format --dry-run --Werror $(C_SOURCES)

# Rewrites the Python sources (ruff format, ruff's safe fixes) and the C sources (.clang-format).
format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	@command -v clang-format >/dev/null || { echo "clang-format is not installed (Debian: apt-get install clang-format)" >&2; exit 1; }
	clang-format -i $(C_SOURCES)

# The suite's short fuzz passes (tests/test_fuzz.py) need clang with libFuzzer too.
test: setup lint
	bash scripts/bootstrap-system.sh --fuzz
	$(PY) -m pytest $(PYTEST_JOBS) $(PYTEST_ARGS)

# The edit-run loop: everything not marked slow (firmware builds, TensorFlow) or qemu.
test-fast: setup
	$(PY) -m pytest -m "not slow and not qemu" $(PYTEST_JOBS) $(PYTEST_ARGS)

# Fuzz every target (tests/fuzz: model reader+init+invoke, harness frames, Python parse_model)
# for FUZZ_SECONDS each, one process at a time; the minimised corpus goes back to
# tests/fuzz/corpus/<target>/, findings to build/fuzz/crashes/<target>/ (docs/security.md).
FUZZ_SECONDS ?= 600
fuzz: setup
	bash scripts/bootstrap-system.sh --fuzz
	$(PY) tests/fuzz/fuzzlib.py run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf build .pytest_cache
