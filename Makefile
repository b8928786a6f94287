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
	$(BIN)/galvae simulate $(DEMO_DIR)/data --n-galaxies 2000 --overlap 400 --size 64 --seed 0 --overwrite
	$(BIN)/galvae labels $(DEMO_DIR)/data/catalog.parquet --out $(DEMO_DIR)/labels.parquet --overwrite
	$(BIN)/galvae train $(DEMO_DIR)/data/decals.h5 --out $(DEMO_DIR)/run --latent-dim 40 --epochs 5 --seed 0 --overwrite
	$(BIN)/galvae encode $(DEMO_DIR)/run $(DEMO_DIR)/data/decals.h5 --out $(DEMO_DIR)/latents_decals.parquet --overwrite
	$(BIN)/galvae encode $(DEMO_DIR)/run $(DEMO_DIR)/data/bass_mzls.h5 --out $(DEMO_DIR)/latents_bass_mzls.parquet --overwrite
	$(BIN)/galvae generate $(DEMO_DIR)/run --n 16 --seed 1 --out $(DEMO_DIR)/mocks.h5 --overwrite
	$(BIN)/galvae classify $(DEMO_DIR)/latents_decals.parquet $(DEMO_DIR)/data/catalog.parquet --store $(DEMO_DIR)/data/decals.h5 --out $(DEMO_DIR)/table3
	$(BIN)/galvae outliers $(DEMO_DIR)/latents_decals.parquet --sigma 8 --catalog $(DEMO_DIR)/data/catalog.parquet --store $(DEMO_DIR)/data/decals.h5 --out $(DEMO_DIR)/outliers

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
