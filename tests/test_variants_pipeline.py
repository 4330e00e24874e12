"""`make variants` on tiny params in a temporary copy of the repo: the variants pipeline (its own data, recipes,
evaluations and report) runs every recipe through dvc, and editing one recipe reruns only that one."""
import json
import re
import sys

import pytest

from conftest import REPO
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
    summary = (root / "metrics/variants/story_qa/report/summary.md").read_text()
    assert "sftrl minus sftcontrol, held-out exact_match" in summary  # the scale's paired bootstraps
    analysis = (root / "metrics/variants/story_qa/report/error_analysis.md").read_text()
    header = [cell.strip() for cell in analysis.split("\n| question")[1].split("\n")[0].split("|")[1:-1]]
    assert sorted(header) == sorted(["gold", "base", "sft", "sft-plain-eval", "sftrl", "sftcontrol"])
    # `make readme` writes each task's variants table from comparison.csv into the document's markers
    doc = root / "doc.md"
    doc.write_text("# doc\n<!-- variants-story_qa:start -->\nstale\n<!-- variants-story_qa:end -->\n")
    sh(sys.executable, "scripts/results.py", "--variants", "--readme", str(doc), cwd=root)
    control = evals["sftcontrol"]["test"]["all"]["exact_match"]
    row = next(line for line in doc.read_text().splitlines() if line.startswith("| sftcontrol |"))
    assert row.endswith(f"| {control['mean']:.3f} [{control['ci_low']:.3f}, {control['ci_high']:.3f}] |")
    assert "stale" not in doc.read_text()

    set_param(root, "variants.eval.sft-plain-eval.format", "chat")
    assert stages_run(sh(DVC, "repro", "--dry", "variants/dvc.yaml", cwd=root)) == {
        "variants/dvc.yaml:eval_accuracy_plus@sft-plain-eval"}
    sh("git", "checkout", "params.yaml", cwd=root)


def test_the_variants_tables_of_the_results_doc_are_the_committed_metrics():
    """docs/results.md's variants tables are what `scripts/results.py --variants` writes (make readme)."""
    out = sh(sys.executable, "scripts/results.py", "--variants", cwd=REPO)
    text = (REPO / "docs/results.md").read_text(encoding="utf-8")
    for task in ("story_qa", "word_math"):
        block = re.search(f"<!-- variants-{task}:start -->\n(.*?)\n<!-- variants-{task}:end -->", text, re.S).group(1)
        assert block.startswith("| model |") and block in out, task
