# Fresh-machine entry points (see the top of README.md):
#   make demo   set up .venv and run the main job on the built-in simulated surveys
#   make test   set up .venv and run the whole test suite
# torch is pinned to the 2.13.0 CPU wheel here so that setup never pulls a multi-GB
# CUDA build; the package itself only asks for torch>=2.3, so GPU users bring their own.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.13.0
DEMO_DIR ?= galvae-demo
# pytest-xdist: one worker per core (at most 4), each test file on one worker so that its module fixtures
# (the demo's run, the DDP bed) are built once; tests/conftest.py gives each worker its share of the cores.
# 197 s instead of 269 s on the 2-core CI machine. PYTEST_ARGS= runs in one process.
PYTEST_ARGS ?= -n auto --maxprocesses 4 --dist loadfile

.PHONY: setup demo lint test bench clean

$(BIN)/.galvae-installed: pyproject.toml
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "galvae setup: could not install Debian's chromium; the browser tests of the HTML report are skipped (and fail under CI=true)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.galvae-installed

demo: setup
	$(BIN)/galvae demo --out $(DEMO_DIR)

# ruff is pinned in the [test] extra so that the formatter's verdict does not change under CI's feet.
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# benchmarks/run.py: encode/reconstruct/train images/s against a naive loop and the matmul rate (run.md)
bench: setup
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_adapt.py
	$(BIN)/python benchmarks/bench_demo.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
