"""`make variants` on tiny params in a temporary copy of the repo: the variants pipeline (its own data, recipes,
evaluations and report) runs every recipe through dvc, and editing one recipe reruns only that one."""
import json

import pytest

from pipeline import DVC, repo_copy, set_param, sh, stages_run

pytestmark = pytest.mark.slow


def test_variants_pipeline_runs_each_recipe_and_reruns_only_a_changed_one(tmp_path):
    root = repo_copy(tmp_path)
    output = sh(DVC, "repro", "variants/dvc.yaml", cwd=root)
    assert stages_run(output) == {f"variants/dvc.yaml:{stage}" for stage in (
        "generate_stories@story_qa", "build_qa@story_qa", "train_sft@base", "train_sft@sft", "train_rl@sftrl",
        "train_rl@sftcontrol", "eval_accuracy_plus@base", "eval_accuracy_plus@sft", "eval_accuracy_plus@sft-plain-eval",
        "eval_accuracy_plus@sftrl", "eval_accuracy_plus@sftcontrol", "report@story_qa")}
    evals = {name: json.loads((root / f"metrics/variants/story_qa/eval/{name}.json").read_text())
             for name in ("base", "sft", "sft-plain-eval", "sftrl", "sftcontrol")}
    assert evals["base"]["recipe"] == []
    assert [stage["stage"] for stage in evals["sftrl"]["recipe"]] == ["sft", "grpo"]
    assert [(stage["stage"], stage["steps"]) for stage in evals["sftcontrol"]["recipe"]] == [
        ("sft", 3), ("sft-continued", 2)]  # the control: its start's SFT continued for the scale's control_steps
    assert evals["sft"]["recipe"][0]["steps"] == 3  # length 1 x base_sft_steps
    assert (evals["sft"]["eval_format"], evals["sft-plain-eval"]["eval_format"]) == ("chat", "plain")
    stories = json.loads((root / "metrics/variants/story_qa/generate_stories.json").read_text())
    assert stories["entities_with_story"] == 12
    comparison = (root / "metrics/variants/story_qa/report/comparison.csv").read_text()
    assert "untuned" in comparison and "sft+grpo" in comparison
    analysis = (root / "metrics/variants/story_qa/report/error_analysis.md").read_text()
    header = [cell.strip() for cell in analysis.split("\n| question")[1].split("\n")[0].split("|")[1:-1]]
    assert sorted(header) == sorted(["gold", "base", "sft", "sft-plain-eval", "sftrl", "sftcontrol"])

    set_param(root, "variants.eval.sft-plain-eval.format", "chat")
    assert stages_run(sh(DVC, "repro", "--dry", "variants/dvc.yaml", cwd=root)) == {
        "variants/dvc.yaml:eval_accuracy_plus@sft-plain-eval"}
    sh("git", "checkout", "params.yaml", cwd=root)
