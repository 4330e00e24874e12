"""`make smoke`: the whole DAG, every task, on tiny params in a temporary copy of the repo, through dvc itself.
(The variants pipeline and the experiment round trip have files of their own, so test workers run them beside this.)"""
import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_params
from storylab.tasks.registry import TASKS as REGISTERED
from pipeline import DVC, repo_copy, run, set_param, sh, stages_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the committed tree plus working changes, with tiny params, as its own git + DVC repo."""
    root = repo_copy(tmp_path_factory.mktemp("smoke"))
    # The first run has no network at all (its own network namespace: every process DVC starts inherits it), and a
    # deliberate connection attempt in the same namespace shows the block is real.
    probe = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 443), timeout=5)\n    print('CONNECTED')\n"
             "except OSError as exc:\n    print('BLOCKED', exc)")
    first = sh("unshare", "-rn", "sh", "-c", f'"{DVC}" repro && "{sys.executable}" -c "{probe}"', cwd=root)
    return root, first


TASKS = tuple(REGISTERED)  # every registered task runs: a new one is tested the moment its registry line lands
STAGES = {f"{stage}@{task}" for task in TASKS for stage in ("generate_stories", "build_qa", "train_sft", "report")}
STAGES |= {"validate_params", "open_book"}
# Models per task, from the pipeline section of the tiny params (they add tag_story's GRPO and control): instruct
# is SFT only, so no stage trains or re-scores a copy of its SFT model.
MODELS = {task: tuple(entry["model"] for entry in tiny_params()["pipeline"]["eval_accuracy_plus"].values()
                      if entry["task"] == task) for task in TASKS}
PAIRED = {task: {**tiny_params()["report"], **tiny_params()["tasks"][task]["report"]}["paired"] for task in TASKS}
STAGES |= {f"train_rl@{task}-{run}" for task in TASKS for run in MODELS[task] if run != "sft"}
STAGES |= {f"eval_accuracy_plus@{task}-{model}" for task in TASKS for model in MODELS[task]}


def test_full_dag_runs_every_task_offline_and_writes_versioned_metrics(repo):
    root, output = repo
    assert stages_run(output) == STAGES
    assert "BLOCKED" in output and "CONNECTED" not in output  # it ran with the network cut
    for task in TASKS:
        for model in MODELS[task]:
            metrics = json.loads((root / f"metrics/{task}/eval/{model}.json").read_text())
            assert metrics["metric_version"] >= 1 and metrics["task"] == task
            assert (root / f"data/{task}/predictions/{model}/test.jsonl").is_file()
        for name in ("comparison.csv", "error_analysis.md", "accuracy_bar.png", "accuracy_grouped.png",
                     "eval_template_scatter.png", "summary.md"):
            assert (root / f"metrics/{task}/report/{name}").stat().st_size > 0
        numbers = json.loads((root / f"metrics/{task}/report/numbers.json").read_text())
        # The task's report.paired, per held-out split (word_math: test, and test_harder as `pair@test_harder`)
        pairs = {pair.replace(":", "_minus_") + suffix for pair in PAIRED[task]
                 for suffix in ("", *(f"@{split}" for split in metrics["splits"] if split == "test_harder"))}
        assert set(numbers) == {"metric_version", "metric", *MODELS[task], *pairs}
        for pair in pairs:  # the paired difference, and how many held-out questions moved each way
            found = numbers[pair]
            assert found["better"] + found["worse"] + found["same"] == metrics["test"]["all"]["count"]
            assert found["ci_low"] <= found["difference"] <= found["ci_high"]
        headline = json.loads((root / f"metrics/{task}/headline.json").read_text())
        differences = {key for key, pair in (("rl-sft", "rl_minus_sft"), ("rl-ctrl", "rl_minus_control")) if pair in pairs}
        train = {"train"} if "train" in metrics["splits"] else set()
        assert set(headline) == {"version", "score", "ci_low", "ci_high", *train, *differences}
        assert headline["score"] == round(numbers["sft"]["test"], 3)
        # DVCLive: the per-step curve (a row per logged step: the first, then every logging_steps) beside
        # transformers' one-row end-of-training summary
        curve = (root / f"dvclive/{task}/train_sft/plots/metrics/loss.tsv").read_text().splitlines()
        assert curve[0] == "step\tloss" and len(curve) >= 2
        assert (root / f"dvclive/{task}/train_sft/plots/metrics/train/loss.tsv").is_file()
    story = json.loads((root / "metrics/story_qa/eval/sft.json").read_text())
    assert set(story["splits"]) == {"train", "test", "unseen"} and "chance_exact_match" in story["unseen"]
    summary = (root / "metrics/story_qa/report/summary.md").read_text()
    assert "| model " in summary and "GRPO (2 steps, " in summary and "rollouts): mean reward" in summary and "rl minus sft" in summary
    assert "SFT continued for 2 more steps" in summary
    math = json.loads((root / "metrics/word_math/eval/rl.json").read_text())
    assert {"pass_at_2", "sampled_correct", "correct", "no_marker"} <= set(math["test"]["all"])
    assert math["recipe"][0]["selected_by"] == "validation score"  # the SFT checkpoint was picked on validation
    rl = json.loads((root / "metrics/word_math/train_rl.json").read_text())
    assert rl["method"] == "grpo" and len(rl["reward_over_steps"]) == 2
    stories = json.loads((root / "metrics/spec_story/eval/sft.json").read_text())
    assert {"reference_ppl", "pairs_easy", "pairs_hard", "overlap"} <= set(stories["test"])
    assert stories["recipe"][0]["selected_by"] == "validation loss"
    dpo = json.loads((root / "metrics/spec_story/train_rl.json").read_text())
    assert dpo["method"] == "dpo" and {"heldout_preference_accuracy_easy", "heldout_preference_accuracy_hard"} <= set(dpo)
    story_summary = (root / "metrics/spec_story/report/summary.md").read_text()
    assert "## Constraints on held-out specs" in story_summary and "## Sample stories" in story_summary
    assert "easy pairs: accuracy" in story_summary and "rl minus sft, style" in story_summary
    # The base model is the one SFT started from: the weights train_sft saves when told to train no step
    base = json.loads((root / "metrics/spec_story/eval/base.json").read_text())
    assert base["recipe"] == [] and any([cell.strip() for cell in line.split("|")[1:3]] == ["base", "untuned"]
                                        for line in story_summary.splitlines())
    sh(sys.executable, "scripts/train_sft.py", "--task", "spec_story", "--data_dir", "data/spec_story/qa",
       "--out_dir", "start", "--live_dir", "start_live", "--set", "train_sft.max_steps=0", cwd=root)
    start, saved = (load_file(root / path / "model.safetensors") for path in ("start", "models/spec_story/base"))
    assert start.keys() == saved.keys() and all(torch.equal(start[name], saved[name]) for name in start)
    tags = json.loads((root / "metrics/tag_story/eval/rl.json").read_text())
    assert {"coverage", "traits", "tone", "stopped", "sampled_correct"} <= set(tags["test"]["all"])
    assert {"reference_ppl", "overlap"} <= set(tags["test"])
    grpo = json.loads((root / "metrics/tag_story/train_rl.json").read_text())
    assert grpo["method"] == "grpo" and len(grpo["reward_over_steps"]) == 2
    assert "## Tags used on held-out tag sets" in (root / "metrics/tag_story/report/summary.md").read_text()
    instruct = json.loads((root / "metrics/instruct/eval/sft.json").read_text())
    assert set(instruct["test"]["by_category"]) == {"closed_qa", "information_extraction"}
    book = json.loads((root / "metrics/instruct/open_book.json").read_text())
    assert {"bm25", "gold", "none", "closed_book", "retrieval"} <= set(book) and book["questions"] > 0
    assert book["retrieval"]["question"]["recall_at_5"]["mean"] == 1.0  # every question names its person
    assert "| instruct model + BM25 top story |" in (root / "metrics/instruct/open_book.md").read_text()
    # `dvc metrics show` prints the headlines only, one row per task that fits a 120-column terminal
    shown = json.loads(sh(DVC, "metrics", "show", "--json", cwd=root))
    files = {name for rev in shown.values() for name in rev["data"]}
    assert files == {f"metrics/{task}/headline.json" for task in TASKS}
    assert max(map(len, sh(DVC, "metrics", "show", cwd=root).splitlines())) <= 120
    assert "| story_qa | exact_match |" in sh(sys.executable, "scripts/results.py", cwd=root)


def test_second_repro_does_nothing_and_params_rerun_only_their_stages(repo):
    root, _ = repo
    assert stages_run(sh(DVC, "repro", cwd=root)) == set()
    # A dry run lists the stages whose own deps changed (downstream ones follow once outputs change).
    set_param(root, "tasks.story_qa.score.rouge_thresh", 0.7)
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {
        "validate_params", "train_rl@story_qa-rl", "train_rl@story_qa-control", "eval_accuracy_plus@story_qa-sft",
        "eval_accuracy_plus@story_qa-rl", "eval_accuracy_plus@story_qa-control"}
    sh("git", "checkout", "params.yaml", cwd=root)
    set_param(root, "tasks.story_qa.train_sft.learning_rate", 0.002)  # the control continues SFT with these settings
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {"validate_params", "train_sft@story_qa",
                                                               "train_rl@story_qa-rl", "train_rl@story_qa-control"}
    sh("git", "checkout", "params.yaml", cwd=root)
    set_param(root, "tasks.word_math.generate_stories.max_operand", 7)  # another task's data: its stages only
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {"validate_params", "generate_stories@word_math"}
    sh("git", "checkout", "params.yaml", cwd=root)
    set_param(root, "eval.batch_size", 8)  # a shared default: every task that reads it
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {
        f"eval_accuracy_plus@{task}-{model}" for task in TASKS for model in MODELS[task]} | {
        f"report@{task}" for task in TASKS} | {"validate_params", "open_book"}
    sh("git", "checkout", "params.yaml", cwd=root)
    # A section no stage reads reruns nothing but the validation stage, which stops `dvc repro` with one line.
    set_param(root, "trian_sft.learning_rate", 0.1)
    result = run(DVC, "repro", cwd=root)
    assert result.returncode != 0
    assert "error: params.yaml: trian_sft: unknown section; allowed: launch, model, train_sft" in result.stderr + result.stdout
    sh("git", "checkout", "params.yaml", cwd=root)


def test_same_params_same_metrics(repo):
    root, _ = repo
    before = {p: p.read_bytes() for p in (root / "metrics").rglob("*.json")}
    sh(DVC, "repro", "--force", "report@story_qa", cwd=root)
    after = {p: p.read_bytes() for p in (root / "metrics").rglob("*.json")}
    assert before == after
