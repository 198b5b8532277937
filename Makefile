# Two commands for a fresh Debian/Ubuntu machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tinyflash-installed
PYTEST_ARGS ?=

.PHONY: setup demo test fuzz clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap-system.sh
	bash scripts/bootstrap-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/tinyflash deploy examples/digits/digits.keras --data examples/digits/calibration.npz --board mps2-an386 -o build/demo --force

# The suite's short fuzz passes (tests/test_fuzz.py) need clang with libFuzzer too.
test: setup
	bash scripts/bootstrap-system.sh --fuzz
	$(PY) -m pytest $(PYTEST_ARGS)

# Fuzz every target (tests/fuzz: model reader+init+invoke, harness frames, Python parse_model)
# for FUZZ_SECONDS each, one process at a time; the minimised corpus goes back to
# tests/fuzz/corpus/<target>/, findings to build/fuzz/crashes/<target>/ (docs/security.md).
FUZZ_SECONDS ?= 600
fuzz: setup
	bash scripts/bootstrap-system.sh --fuzz
	$(PY) tests/fuzz/fuzzlib.py run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf build .pytest_cache
