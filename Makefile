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
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

$(BIN)/.galvae-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.galvae-installed

demo: setup
	$(BIN)/galvae simulate $(DEMO_DIR) --n-galaxies 2000 --overlap 400 --size 64 --seed 0 --overwrite
	$(BIN)/galvae labels $(DEMO_DIR)/catalog.parquet --out $(DEMO_DIR)/labels.parquet --overwrite
	$(BIN)/galvae info $(DEMO_DIR)/decals.h5

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
