"""`make smoke`: the whole DAG on tiny params in a temporary copy of the repo, through dvc itself."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tiny_params

DVC = str(Path(sys.executable).with_name("dvc"))


def sh(*cmd, cwd):
    # The venv's python runs the stages; the copy's own storylab package shadows the installed one.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(cwd),
           "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def stages_run(output):
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def set_param(repo, section, key, value):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the committed tree plus working changes, with tiny params, as its own git + DVC repo."""
    root = tmp_path_factory.mktemp("smoke") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file() and not name.startswith(("metrics/", "dvclive/")) and name != "dvc.lock":
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    sh("git", "init", "-q", cwd=root)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "x", "--allow-empty", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "smoke", cwd=root)
    first = sh(DVC, "repro", cwd=root)
    return root, first


def test_full_dag_runs_and_writes_versioned_metrics(repo):
    root, output = repo
    assert stages_run(output) == {"generate_stories", "build_qa", "train_sft", "train_rl",
                                  "eval_accuracy_plus@sft", "eval_accuracy_plus@rl", "report"}
    for model in ("sft", "rl"):
        metrics = json.loads((root / f"metrics/eval_{model}.json").read_text())
        assert metrics["metric_version"] >= 1
        assert set(metrics) >= {"train", "test", "unseen"}
        assert "chance_exact_match" in metrics["unseen"]
        assert (root / f"data/predictions/{model}/test.jsonl").is_file()
    summary = (root / "metrics/summary.md").read_text()
    assert "| model " in summary and "GRPO (2 steps): mean reward" in summary and "rl minus sft" in summary
    for name in ("comparison.csv", "error_analysis.md", "accuracy_bar.png", "accuracy_grouped.png",
                 "eval_template_scatter.png"):
        assert (root / "metrics" / name).stat().st_size > 0
    rl = json.loads((root / "metrics/train_rl.json").read_text())
    assert rl["method"] == "grpo" and 0 <= rl["mean_frac_reward_zero_std"] <= 1
    assert (root / "dvclive/train_sft/plots/metrics/train/loss.tsv").is_file()
    shown = sh(DVC, "metrics", "show", "--json", cwd=root)
    assert "eval_sft.json" in shown


def test_second_repro_does_nothing_and_params_rerun_only_their_stages(repo):
    root, _ = repo
    assert stages_run(sh(DVC, "repro", cwd=root)) == set()
    set_param(root, "eval", "rouge_thresh", 0.7 if tiny_params()["eval"]["rouge_thresh"] != 0.7 else 0.6)
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {"eval_accuracy_plus@sft", "eval_accuracy_plus@rl",
                                                               "report"}
    sh("git", "checkout", "params.yaml", cwd=root)
    # A dry run lists the stages whose own deps changed (downstream ones follow once outputs change).
    current = yaml.safe_load((root / "params.yaml").read_text())["train_sft"]["learning_rate"]
    set_param(root, "train_sft", "learning_rate", current * 2)
    assert stages_run(sh(DVC, "repro", "--dry", cwd=root)) == {"train_sft"}
    sh("git", "checkout", "params.yaml", cwd=root)


def test_same_params_same_metrics(repo):
    root, _ = repo
    before = {p.name: p.read_bytes() for p in (root / "metrics").glob("*.json")}
    sh(DVC, "repro", "--force", cwd=root)
    after = {p.name: p.read_bytes() for p in (root / "metrics").glob("*.json")}
    assert before == after


def test_experiment_with_override_is_listed(repo):
    root, _ = repo
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "results", "--allow-empty", cwd=root)
    # The ablation's settings: method none copies the SFT model, so both evaluations agree.
    sh(DVC, "exp", "run", "-S", "train_sft.max_steps=2", "-S", "train_rl.method=none", cwd=root)
    table = sh(DVC, "exp", "show", "--csv", cwd=root)
    assert "train_sft.max_steps" in table and "test.all.exact_match.mean" in table
    sft, rl = (json.loads((root / f"metrics/eval_{m}.json").read_text()) for m in ("sft", "rl"))
    assert sft["test"] == rl["test"] and json.loads((root / "metrics/rl_vs_sft.json").read_text())[
        "test_exact_match"]["difference"] == 0.0


def test_variants_pipeline_runs_each_recipe_and_reruns_only_a_changed_one(repo):
    root, _ = repo
    output = sh(DVC, "repro", "variants/dvc.yaml", cwd=root)
    assert stages_run(output) == {f"variants/dvc.yaml:{stage}" for stage in (
        "generate_stories", "build_qa", "train_sft@base", "train_sft@sft", "train_rl@sftrl",
        "eval_accuracy_plus@base", "eval_accuracy_plus@sft", "eval_accuracy_plus@sft-plain-eval",
        "eval_accuracy_plus@sftrl", "report")}
    evals = {name: json.loads((root / f"metrics/variants/eval/{name}.json").read_text())
             for name in ("base", "sft", "sft-plain-eval", "sftrl")}
    assert evals["base"]["recipe"] == []
    assert [stage["stage"] for stage in evals["sftrl"]["recipe"]] == ["sft", "grpo"]
    assert evals["sft"]["recipe"][0]["steps"] == 3  # length 1 x base_sft_steps
    assert (evals["sft"]["eval_format"], evals["sft-plain-eval"]["eval_format"]) == ("chat", "plain")
    assert json.loads((root / "metrics/variants/stories.json").read_text())["entities_with_story"] == 12
    comparison = (root / "metrics/variants/report/comparison.csv").read_text()
    assert "untuned" in comparison and "sft+grpo" in comparison
    analysis = (root / "metrics/variants/report/error_analysis.md").read_text()
    header = [cell.strip() for cell in analysis.split("\n| question")[1].split("\n")[0].split("|")[1:-1]]
    assert sorted(header) == sorted(["gold", "base", "sft", "sft-plain-eval", "sftrl"])

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["variants"]["eval"]["sft-plain-eval"]["format"] = "chat"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    assert stages_run(sh(DVC, "repro", "--dry", "variants/dvc.yaml", cwd=root)) == {
        "variants/dvc.yaml:eval_accuracy_plus@sft-plain-eval"}
    sh("git", "checkout", "params.yaml", cwd=root)
