"""The bad-input catalogue (README, Troubleshooting): every case stops the entry point a user would call with exit
code 2 and one line that names the file / key / flag and the fix, before any expensive work. Four kinds: params,
data files, models, CLI flags; each case goes through a different check."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO, set_dotted, tiny_params, write_params


def params_with(tmp: Path, change) -> Path:
    params = tiny_params()
    change(params)
    return write_params(tmp, params)


def set_key(dotted: str, value):
    def change(params):
        set_dotted(params, dotted, value)
    return change


def changes(*steps):
    def change(params):
        for step in steps:
            step(params)
    return change


def validate(path: Path) -> list[str]:
    return ["-m", "storylab.config", str(path)]


def script(name: str, *args) -> list[str]:
    return [str(REPO / "scripts" / name), *map(str, args)]


def jsonl(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def standalone(tmp: Path, content: bytes | None, *extra) -> list[str]:
    """eval_accuracy_plus.py --pred_file on a file with this content (None: the path is a directory)."""
    path = tmp / "preds.jsonl"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return script("eval_accuracy_plus.py", "--pred_file", path, *extra)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A saved tiny model, the same dir without weights, and one whose tokenizer has no chat template."""
    from storylab.config.schema import ModelParams
    from storylab.modeling import build_tiny_model, train_tiny_tokenizer

    root = tmp_path_factory.mktemp("models")
    model_params = ModelParams.model_validate(tiny_params()["model"])
    tokenizer = train_tiny_tokenizer(["Where was Aldith Varnholt born? Kelmscar."] * 20, 300)
    build_tiny_model(model_params, tokenizer, seed=0).save_pretrained(root / "good")
    tokenizer.save_pretrained(root / "good")
    shutil.copytree(root / "good", root / "no_weights")
    (root / "no_weights/model.safetensors").unlink()
    shutil.copytree(root / "good", root / "no_template")
    config = json.loads((root / "no_template/tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (root / "no_template/tokenizer_config.json").write_text(json.dumps(config))
    (root / "no_template/chat_template.jinja").unlink(missing_ok=True)
    jsonl(root / "qa/train.jsonl", [f'{{"id": "{i}", "question": "Where was Aldith Varnholt born?", "answer": "Kelmscar"}}'
                                    for i in "ab"])
    return root


# (id, builder(tmp, models) -> argv, expected part of the one error line)
CASES = [
    # --- params -------------------------------------------------------------------------------------------------
    ("params-unknown-section", lambda t, m: validate(params_with(t, set_key("trian_sft.learning_rate", 0.1))),
     "trian_sft: unknown section; allowed: launch, model, train_sft"),
    ("params-unknown-key", lambda t, m: validate(params_with(t, set_key("train_sft.learning_rat", 0.1))),
     "train_sft.learning_rat: unknown key; allowed keys here: seed, mix_qa"),
    ("params-unknown-task-key", lambda t, m: validate(params_with(t, set_key("tasks.word_math.build_qa.test", 3))),
     "tasks.word_math.build_qa.test: unknown key; allowed keys here: seed, validation_problems"),
    ("params-wrong-type", lambda t, m: validate(params_with(t, set_key("tasks.story_qa.generate_stories.num_entities", "5"))),
     "tasks.story_qa.generate_stories.num_entities: Input should be a valid integer (got '5')"),
    ("params-out-of-range", lambda t, m: validate(params_with(t, set_key("eval.bootstrap_resamples", 10))),
     "eval.bootstrap_resamples: Input should be greater than or equal to 100"),
    ("params-launch-config", lambda t, m: validate(params_with(t, set_key("launch.config", "ddp"))),
     "launch.config: configs/accelerate/ddp.yaml not found; one of: ddp_cpu, ddp_gpu, deepspeed_zero3, fsdp, single"),
    ("params-unknown-task", lambda t, m: validate(params_with(t, lambda p: p["tasks"].update(math=p["tasks"]["word_math"]))),
     "unknown task 'math'; registered tasks: story_qa, word_math"),
    ("params-missing-task-section", lambda t, m: validate(params_with(t, lambda p: p["tasks"]["story_qa"].pop("eval"))),
     "tasks.story_qa.eval: missing; add it ({} keeps the shared defaults)"),
    ("params-grpo-batch", lambda t, m: validate(params_with(t, set_key("tasks.word_math.train_rl.grpo.num_generations", 3))),
     "tasks.word_math.train_rl: per_device_train_batch_size must be a multiple of grpo.num_generations"),
    ("params-no-train-people", lambda t, m: validate(params_with(t, set_key("tasks.story_qa.build_qa.test_fraction", 0.99))),
     "tasks.story_qa.build_qa.test_fraction 0.99 holds out 16 of 16 people: it must leave at least one on each side"),
    ("params-ops-range", lambda t, m: validate(params_with(t, set_key("tasks.word_math.generate_stories.min_ops", 9))),
     "tasks.word_math.generate_stories: min_ops must be <= max_ops"),
    ("params-unknown-reward", lambda t, m: validate(params_with(t, set_key("tasks.word_math.train_rl.grpo.rewards", ["f1"]))),
     "train_rl.grpo.rewards (task word_math): unknown reward 'f1'; allowed: correct"),
    ("params-variant-reference", lambda t, m: validate(params_with(t, set_key("variants.rl.sftrl.start", "nothing"))),
     "variants: rl.sftrl.start: 'nothing' is not an sft variant"),
    ("params-pipeline-missing-run", lambda t, m: validate(params_with(t, set_key("tasks.instruct.train_rl.method", "grpo"))),
     "pipeline.train_rl: tasks.instruct.train_rl.method is grpo but instruct-rl is missing; add instruct-rl: "
     "{task: instruct, run: rl} and its eval_accuracy_plus entry"),
    ("params-pipeline-unevaluated", lambda t, m: validate(params_with(t, lambda p: p["pipeline"]["eval_accuracy_plus"].pop("word_math-control"))),
     "pipeline.eval_accuracy_plus: word_math-control is missing; add word_math-control: {task: word_math, model: control}"),
    ("params-pipeline-key", lambda t, m: validate(params_with(t, lambda p: p["pipeline"]["train_rl"].update(
        rl=p["pipeline"]["train_rl"].pop("story_qa-rl")))),
     "pipeline.train_rl.rl: name it story_qa-rl (the stage name)"),
    ("params-yaml-syntax", lambda t, m: validate(jsonl(t / "params.yaml", ["model: {name_or_path: tiny"]) ),
     "params.yaml:2: not valid YAML"),
    ("params-not-utf8", lambda t, m: validate((t / "params.yaml").write_bytes(b"model: \xff\n") and t / "params.yaml"),
     "params.yaml: not UTF-8 text (byte 7); save it as UTF-8"),
    ("params-max-length-below-prompt", lambda t, m: script(
        "train_sft.py", "--params", params_with(t, set_key("tasks.story_qa.train_sft.max_length", 16)),
        "--data_dir", jsonl(t / "qa/train.jsonl", ['{"id": "q1", "question": "' + "word " * 40 + '", "answer": "a"}']).parent,
        "--out_dir", t / "m", "--live_dir", t / "l"),
     "train_sft.max_length 16 is below the longest prompt"),
    ("params-select-without-validation", lambda t, m: script(
        "train_sft.py", "--params", params_with(t, set_key("tasks.story_qa.train_sft.select_every", 10)),
        "--data_dir", t, "--out_dir", t / "m", "--live_dir", t / "l"),
     "train_sft.select_every (task story_qa): the task has no validation split to select on; set select_every: 0"),
    ("params-demonstrations-past-train", lambda t, m: script(
        "build_qa.py", "--params", params_with(t, set_key("tasks.word_math.build_qa.demonstrations", 5)), "--task",
        "word_math", "--raw_dir", jsonl(t / "raw/problems.jsonl", [
            f'{{"id": "p{i}", "question": "q", "working": [], "number": 1, "key": "{i}", "num_ops": {2 + i % 4}}}'
            for i in range(40)]).parent, "--out_dir", t / "qa", "--metrics", t / "q.json"),
     "test_problems + validation_problems + demonstrations (32 + 5) exceed the 20 problems of at most demo_max_ops"),
    ("params-rl-pool-below-batch", lambda t, m: validate(params_with(t, set_key("tasks.word_math.build_qa.demonstrations", 151))),
     "tasks.word_math.build_qa: the RL pool would hold 1 problems (generate_stories.num_problems minus the splits and "
     "demonstrations), fewer than one GRPO step's 2 prompts"),
    ("params-harder-split-overlaps-demonstrations", lambda t, m: validate(params_with(t, set_key("tasks.word_math.build_qa.demo_max_ops", 5))),
     "tasks.word_math.build_qa.demo_max_ops 5: test_harder needs problems of more operations than any demonstration, "
     "but generate_stories.max_ops is 5"),
    ("params-rft-without-samples", lambda t, m: validate(params_with(t, set_key("tasks.word_math.train_rl.rft.samples", 0))),
     "tasks.word_math.train_rl.rft.samples"),
    ("params-paired-unevaluated", lambda t, m: validate(params_with(t, set_key("tasks.instruct.report.paired", ["rl:sft"]))),
     "tasks.instruct.report.paired: 'rl:sft': 'rl' is not an evaluated model of instruct (sft)"),
    # --- data files ---------------------------------------------------------------------------------------------
    ("data-malformed-line", lambda t, m: standalone(t, b'{"gold": "a", "prediction": "a"}\n{"gold": \n'),
     "preds.jsonl:2: malformed JSON (Expecting value); fix or delete that line"),
    ("data-missing-field", lambda t, m: standalone(t, b'{"gold": "a"}\n'),
     "preds.jsonl:1: missing field(s) prediction; every line needs gold, prediction"),
    ("data-empty-file", lambda t, m: standalone(t, b""), "preds.jsonl: no records to score"),
    ("data-not-utf8", lambda t, m: standalone(t, b'{"gold": "\xe9", "prediction": "a"}\n'),
     "preds.jsonl: not UTF-8 text (byte 10); save it as UTF-8"),
    ("data-directory", lambda t, m: standalone(t, None), "preds.jsonl: is a directory; expected a file there"),
    ("data-not-an-object", lambda t, m: standalone(t, b'["gold", "prediction"]\n'),
     "preds.jsonl:1: expected a JSON object, got list"),
    ("data-wrong-value-type", lambda t, m: standalone(t, b'{"gold": 42, "prediction": "42"}\n'),
     "preds.jsonl: record 1: `gold` and `prediction` must be strings"),
    ("data-missing-file", lambda t, m: script("build_qa.py", "--raw_dir", t / "nowhere", "--out_dir", t / "qa",
                                              "--metrics", t / "q.json"),
     "nowhere/entities.jsonl: file not found; run the stage that writes it"),
    ("data-empty-split", lambda t, m: script("train_sft.py", "--data_dir", jsonl(t / "qa/train.jsonl", []).parent,
                                             "--out_dir", t / "m", "--live_dir", t / "l"),
     "qa/train.jsonl: no records; rerun build_qa"),
    ("data-eval-json-version", lambda t, m: script(
        "report.py", "--metrics", jsonl(t / "evals/old.json", [json.dumps(
            {"metric_version": 0, "task": "story_qa", "model": "old", "model_dir": "m", "eval_format": "chat",
             "recipe": [], "splits": []})]), "--pred_dir", t, "--out_dir", t / "out"),
     "scored by another metric version than story_qa's 2"),
    # --- models -------------------------------------------------------------------------------------------------
    ("model-unknown-name", lambda t, m: script(
        "train_sft.py", "--params", params_with(t, set_key("model.name_or_path", "no-org/no-model")),
        "--data_dir", m / "qa", "--out_dir", t / "m", "--live_dir", t / "l"),
     "model.name_or_path: 'no-org/no-model' is not 'tiny', a local directory, or a model in the local"),
    ("model-dir-without-config", lambda t, m: script(
        "eval_accuracy_plus.py", "--model_dir", t, "--data_dir", m / "qa", "--out", t / "e.json"),
     "no config.json; point at a directory written by save_pretrained"),
    ("model-dir-without-weights", lambda t, m: script(
        "eval_accuracy_plus.py", "--model_dir", m / "no_weights", "--data_dir", m / "qa", "--out", t / "e.json"),
     "cannot load model from"),
    ("model-missing-dir", lambda t, m: script(
        "train_rl.py", "--sft_dir", t / "no_model", "--data_dir", m / "qa", "--out_dir", t / "rl",
        "--live_dir", t / "l", "--metrics", t / "r.json"),
     "cannot load model from"),
    ("model-no-chat-template", lambda t, m: script(
        "play.py", "--model_dir", m / "no_template", "--prompt", "Where was Aldith Varnholt born?"),
     "has no chat template; set model.prompt_format: plain"),
    ("model-qlora-without-gpu", lambda t, m: script(
        "train_sft.py", "--params", params_with(t, lambda p: p["model"].update(load_in_4bit=True, lora={
            **p["model"]["lora"], "enabled": True})), "--data_dir", m / "qa", "--out_dir", t / "m", "--live_dir", t / "l"),
     "QLoRA needs a CUDA GPU and none is visible; set load_in_4bit: false"),
    ("model-no-trainer-checkpoint", lambda t, m: script(
        "train_rl.py", "--run", "control", "--set", "train_rl.control_steps=2", "--sft_dir", m / "good",
        "--data_dir", m / "qa", "--out_dir", t / "c", "--live_dir", t / "l", "--metrics", t / "c.json"),
     "good: no trainer_checkpoint/ to continue SFT from; rerun train_sft"),
    # --- CLI flags ----------------------------------------------------------------------------------------------
    ("cli-unknown-flag", lambda t, m: script("build_qa.py", "--raw_dir", t, "--out_dir", t, "--metrics", t / "q",
                                             "--raw", "x"), "unrecognized arguments: --raw x"),
    ("cli-missing-flag", lambda t, m: script("generate_stories.py", "--out_dir", t),
     "the following arguments are required: --metrics"),
    ("cli-unknown-task", lambda t, m: script("generate_stories.py", "--task", "math", "--out_dir", t, "--metrics", t / "g"),
     "--task math: unknown task; registered tasks: story_qa, word_math"),
    ("cli-unknown-variant", lambda t, m: script("generate_stories.py", "--variant", "sft.nothing", "--out_dir", t,
                                                "--metrics", t / "g"),
     "--variant sft.nothing: params.yaml has no variants.sft.nothing; known: base, sft"),
    ("cli-variant-of-another-task", lambda t, m: script("generate_stories.py", "--task", "word_math", "--variant",
                                                        "scale.story_qa", "--out_dir", t, "--metrics", t / "g"),
     "--variant scale.story_qa: a recipe of task 'story_qa', but the stage runs --task word_math"),
    ("cli-bad-set", lambda t, m: script("generate_stories.py", "--set", "generate_stories.seed", "--out_dir", t,
                                        "--metrics", t / "g"),
     "--set generate_stories.seed: expected section.key=value"),
    ("cli-model-and-pred-file", lambda t, m: script("eval_accuracy_plus.py", "--model_dir", t, "--pred_file", t),
     "give --model_dir (evaluate a model) or --pred_file (score predictions), one of the two"),
    ("cli-bad-pair", lambda t, m: script("report.py", "--metrics", t / "nothing.json", "--pred_dir", t, "--out_dir", t,
                                         "--paired", "rl-sft"),
     "nothing.json: file not found"),
    ("cli-bad-temperature", lambda t, m: script("play.py", "--model_dir", m / "good", "--temperature", "-1"),
     "play.py: --temperature must be >= 0 and --top_p in (0, 1]"),
    ("cli-play-no-new-tokens", lambda t, m: script("play.py", "--model_dir", m / "good", "--max_new_tokens", "0",
                                                   "--prompt", "x"),
     "play.py: --max_new_tokens 0: give a count of at least 1"),
    ("cli-play-negative-new-tokens", lambda t, m: script("play.py", "--model_dir", m / "good", "--max_new_tokens", "-5",
                                                         "--prompt", "x"),
     "play.py: --max_new_tokens -5: give a count of at least 1"),
    ("model-play-untrained", lambda t, m: script("play.py", "--task", "word_math", "--model_dir", "models/word_math/rl",
                                                 "--prompt", "x"),
     "no such model dir; train it first: dvc repro train_rl@word_math-rl"),
    # --- params, file level and bounds --------------------------------------------------------------------------
    ("params-duplicate-key", lambda t, m: validate(text_file(t / "dup.yaml", "eval:\n  seed: 0\n  batch_size: 4\n  seed: 1\n")),
     "dup.yaml:4: key 'seed' is written twice, on lines 2 and 4"),
    ("params-duplicate-section", lambda t, m: validate(text_file(t / "dup.yaml", "eval: {}\nmodel: {}\neval: {}\n")),
     "dup.yaml:3: key 'eval' is written twice, on lines 1 and 3"),
    ("params-empty-file", lambda t, m: validate(text_file(t / "empty.yaml", "# nothing yet\n")),
     "empty.yaml: the file is empty"),
    ("params-huge-new-tokens", lambda t, m: validate(params_with(t, set_key("eval.max_new_tokens", 10**9))),
     "eval.max_new_tokens: Input should be less than or equal to 131072"),
    ("params-huge-resamples", lambda t, m: validate(params_with(t, set_key("eval.bootstrap_resamples", 10**9))),
     "eval.bootstrap_resamples: Input should be less than or equal to 1000000"),
    ("params-missing-model-dir", lambda t, m: validate(params_with(t, set_key("model.name_or_path", str(t / "nowhere")))),
     "is not 'tiny', a local directory, or a model in the local Hugging Face cache"),
    ("params-new-tokens-past-positions", lambda t, m: script(
        "eval_accuracy_plus.py", "--params", params_with(t, set_key("eval.max_new_tokens", 300)), "--model_dir",
        m / "good", "--data_dir", all_splits(t / "qa", m / "qa/train.jsonl"), "--out", t / "e.json", "--pred_dir", t / "p"),
     "eval.max_new_tokens 300: with the longest prompt"),
    # --- output paths (checked before any work) -----------------------------------------------------------------
    ("data-out-dir-is-a-file", lambda t, m: script("generate_stories.py", "--out_dir", text_file(t / "README.md", "x"),
                                                   "--metrics", t / "g.json"),
     "README.md: is a file, but a directory is written there"),
    ("data-out-dir-under-a-file", lambda t, m: script("train_sft.py", "--data_dir", m / "qa", "--out_dir",
                                                      text_file(t / "README.md", "x") / "raw", "--live_dir", t / "l"),
     "README.md is a file, so nothing can be written under it"),
    ("data-out-file-is-a-dir", lambda t, m: script("eval_accuracy_plus.py", "--model_dir", m / "good", "--data_dir",
                                                   m / "qa", "--out", t, "--pred_dir", t / "p"),
     "is a directory, but a file is written there"),
    ("data-out-dir-read-only", lambda t, m: script("build_qa.py", "--raw_dir", t, "--out_dir", "/proc/storylab-qa",
                                                   "--metrics", t / "q.json"),
     "/proc/storylab-qa: cannot write in /proc"),
    # --- the pretrained pipeline's recipes (configs/pretrained.yaml) and eval.splits ------------------------------
    ("params-eval-split-unknown", lambda t, m: script(
        "eval_accuracy_plus.py", "--params", params_with(t, set_key("tasks.word_math.eval.splits", ["test", "dev"])),
        "--task", "word_math", "--model_dir", m / "good", "--data_dir", m / "qa", "--out", t / "e.json"),
     "eval.splits: 'dev' is not a split of word_math (train, validation, test, test_harder)"),
    ("params-eval-splits-without-heldout", lambda t, m: script(
        "eval_accuracy_plus.py", "--params", params_with(t, set_key("tasks.word_math.eval.splits", ["train"])), "--task",
        "word_math", "--model_dir", m / "good", "--data_dir", m / "qa", "--out", t / "e.json"),
     "eval.splits: ['train'] leaves out the held-out split 'test'; add it"),
    ("params-variant-scale-task-unknown", lambda t, m: validate(params_with(
        t, set_key("variants.scale.naive", {"task": "poetry", "generate_stories": {}, "base_sft_steps": 1,
                                            "rl_steps": 1}))),
     "variants.scale.naive.task: 'poetry' is not a task of the tasks section"),
    ("params-variant-data-unknown", lambda t, m: validate(params_with(t, set_key("variants.sft.sft.data", "naive"))),
     "variants: sft.sft.data: 'naive' has no scale entry (story_qa)"),
    ("params-variant-data-of-another-task", lambda t, m: validate(params_with(t, changes(
        set_key("variants.scale.naive", {"task": "word_math", "generate_stories": {}, "base_sft_steps": 1, "rl_steps": 1}),
        set_key("variants.sft.sft.data", "naive")))),
     "variants: sft.sft.task: 'story_qa', but its scale 'naive' is data of 'word_math'"),
    ("params-variant-paired-unknown", lambda t, m: validate(params_with(
        t, set_key("variants.scale.story_qa.paired", "sft:base,sft:nothing"))),
     "variants: scale.story_qa.paired: 'sft:nothing': 'nothing' is not an eval of this scale"),
    ("params-variant-control-without-steps", lambda t, m: validate(params_with(
        t, set_key("variants.scale.story_qa.control_steps", 0))),
     "variants: rl.sftcontrol.method: control needs scale.story_qa.control_steps >= 1 (its SFT steps)"),
    ("params-variant-set-not-dotted", lambda t, m: validate(params_with(t, set_key("variants.sft.sft.set", {"mix_qa": False}))),
     "variants: sft.sft.set.mix_qa: expected a dotted section.key"),
    ("params-overlay-missing", lambda t, m: script(
        "build_qa.py", "--overlay", t / "none.yaml", "--raw_dir", m / "raw", "--out_dir", t / "qa", "--metrics",
        t / "b.json"),
     "none.yaml: params file not found"),
    # --- GGUF import --------------------------------------------------------------------------------------------
    ("model-gguf-package-missing", lambda t, m: script("import_model.py", "--source", "no_such_pkg:model.gguf",
                                                       "--out_dir", t / "imported"),
     "package 'no_such_pkg' is not installed"),
    ("model-gguf-file-missing", lambda t, m: script("import_model.py", "--source", t / "none.gguf",
                                                    "--out_dir", t / "imported"),
     "none.gguf is not a file"),
    ("model-gguf-not-gguf", lambda t, m: script("import_model.py", "--source", text_file(t / "fake.gguf", "hello"),
                                                "--out_dir", t / "imported"),
     "fake.gguf: not a GGUF file"),
    ("model-gguf-unknown-architecture", lambda t, m: script("import_model.py", "--source", gguf_file(t / "odd.gguf", "odd"),
                                                            "--out_dir", t / "imported"),
     "architecture 'odd' cannot be read by this transformers version"),
]


def text_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def all_splits(folder: Path, train: Path) -> Path:
    """A qa dir whose splits (every task's names) are copies of one file."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test", "unseen"):
        shutil.copy(train, folder / f"{split}.jsonl")
    return folder


def gguf_file(path: Path, architecture: str) -> Path:
    """A valid GGUF file (header and one tensor) of an architecture transformers does not read."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), architecture)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# Bad input on a CPU machine only: where a CUDA GPU is visible, QLoRA is a valid request.
CPU_ONLY = {"model-qlora-without-gpu": pytest.mark.skipif(torch.cuda.is_available(),
                                                          reason="a CUDA GPU is visible: QLoRA runs here")}


@pytest.mark.parametrize("name,build,expected", [pytest.param(*case, id=case[0], marks=CPU_ONLY.get(case[0], ()))
                                                 for case in CASES])
def test_bad_input_stops_with_one_line(name, build, expected, tmp_path, models):
    argv = build(tmp_path, models)
    # run from a copy of the repo's params (tiny), so scripts that default to params.yaml find one
    if not (tmp_path / "params.yaml").exists():
        write_params(tmp_path, tiny_params())
    result = subprocess.run([sys.executable, *map(str, argv)], cwd=tmp_path, capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert expected in lines[0]


def test_the_catalogue_covers_each_kind_five_times():
    kinds = [name.split("-")[0] for name, _, _ in CASES]
    assert len(CASES) >= 30 and all(kinds.count(kind) >= 5 for kind in ("params", "data", "model", "cli"))


def test_a_jsonl_with_a_byte_order_mark_is_read(tmp_path):
    """Excel and Notepad write UTF-8 with a BOM; the file is read as it is, not refused as malformed JSON."""
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"gold": "12", "prediction": "3 + 9 = 12\\n#### 12"}\n')
    write_params(tmp_path, tiny_params())
    result = subprocess.run([sys.executable, *script("eval_accuracy_plus.py", "--task", "word_math", "--pred_file", path,
                                                     "--out", tmp_path / "s.json")],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "s.json").read_text())["all"]["correct"]["mean"] == 1.0
