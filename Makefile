# storylab: `make all` runs the pipeline, `make test` the test suite; both set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
DVC := $(VENV)/bin/dvc
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export DVC_NO_ANALYTICS := 1

.PHONY: help venv all repro params test smoke bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP) ## create .venv and install the pinned requirements

params: $(STAMP) ## validate params.yaml (every section) without running anything
	$(PY) -m storylab.config params.yaml

all: params ## run the whole pipeline (dvc repro) and show where the results are
	$(DVC) repro
	@echo; cat metrics/summary.md; echo
	@echo "Results: metrics/summary.md, metrics/summary.csv, metrics/eval_*.json (dvc metrics show);"
	@echo "predictions: data/predictions/; models: models/; training curves: dvclive/ (dvc plots show)"

repro: all ## alias of all

test: $(STAMP) ## run the test suite (unit tests + the whole DAG on tiny params in a temp copy)
	$(PY) -m pytest

smoke: $(STAMP) ## only the end-to-end run of the DAG on tiny params in a temp copy
	$(PY) -m pytest tests/test_smoke.py

bench: all ## throughput side by side: batched vs one-at-a-time generation, SFTTrainer vs plain PyTorch loop
	$(PY) scripts/bench.py --params params.yaml --model_dir models/sft --qa_dir data/qa --stories data/stories/stories.jsonl

clean: ## delete pipeline outputs (keeps .venv and committed metrics)
	rm -rf data/stories data/qa data/predictions models/sft models/rl
