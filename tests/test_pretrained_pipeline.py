"""The pretrained pipeline's params: configs/pretrained.yaml is an overlay merged over params.yaml (`--overlay`), whose
recipes replace the file's; a scale may be a second dataset of a task (story_qa's naive recipe), and a recipe's
`set` reaches the stage as `--set` overrides. What `make pretrained` runs is read here from the files themselves."""
import yaml

from conftest import REPO, tiny_params, write_params
from storylab.config.loader import load_params, overlaid, read_yaml, validate_data
from storylab.config.variants import validate_variants, variant_overrides

OVERLAY = REPO / "configs/pretrained.yaml"


def merged() -> dict:
    return overlaid(read_yaml(REPO / "params.yaml"), read_yaml(OVERLAY))


def test_the_overlay_merged_over_params_is_valid_and_points_at_the_imported_model_with_lora():
    data = merged()
    validate_data(data, "params.yaml + configs/pretrained.yaml", check_models=False)  # the model is imported by DVC
    assert data["model"]["name_or_path"] == "models/pretrained/smollm2-135m-instruct"
    assert data["model"]["lora"]["enabled"] is True
    # key by key: what the overlay does not set stays params.yaml's
    assert data["train_sft"]["weight_decay"] == read_yaml(REPO / "params.yaml")["train_sft"]["weight_decay"]


def test_the_overlay_recipes_replace_the_variants_of_params_yaml():
    data = merged()
    assert set(data["variants"]["sft"]) == set(read_yaml(OVERLAY)["variants"]["sft"])
    assert "sft-overfit" not in data["variants"]["sft"]


def test_the_experiments_of_the_issue_are_there():
    """The Dolly baseline and LoRA, the chat-template matrix (untuned in both formats, three SFT recipes each asked
    both ways), story_qa naive against augmented, spec_story and tag_story base and LoRA."""
    variants = validate_variants(merged(), "pretrained")
    evals = {(run.model, run.format) for run in variants.eval.values()}
    sft = variants.sft
    assert {("instruct-base", "chat"), ("instruct-sft", "chat")} <= evals
    for model in ("math-base", "math-sft", "math-plain-sft-full", "math-plain-sft-answer"):
        assert {(model, "chat"), (model, "plain")} <= evals, model
    assert (sft["math-plain-sft-full"].format, sft["math-plain-sft-full"].completion_only_loss) == ("plain", False)
    assert (sft["math-plain-sft-answer"].format, sft["math-plain-sft-answer"].completion_only_loss) == ("plain", True)
    assert sft["qa-naive-sft"].scale == "story_qa-naive" and sft["qa-sft"].scale == "story_qa"
    assert variants.scale["story_qa-naive"].generate_stories == {"stories_per_entity": 1, "permute_sentences": False}
    for base in ("instruct-base", "math-base", "qa-base", "qa-naive-base", "spec-base", "tag-base"):
        assert sft[base].length == 0  # the untuned instruct model
    # the naive recipe trains stories, then QA: per phase half the steps, the same compute as the default
    naive = variants.scale["story_qa-naive"].base_sft_steps * 2
    assert naive == variants.scale["story_qa"].base_sft_steps


def test_a_recipe_of_a_second_scale_turns_into_the_stage_overrides():
    data = merged()
    assert variant_overrides(data, "x", "scale.story_qa-naive", "story_qa") == [
        "generate_stories.stories_per_entity=1", "generate_stories.permute_sentences=false"]
    overrides = variant_overrides(data, "x", "sft.qa-naive-sft", "story_qa")
    steps = data["variants"]["scale"]["story_qa-naive"]["base_sft_steps"]  # length 1: the scale's steps
    assert "train_sft.mix_qa=false" in overrides and f"train_sft.max_steps={steps}" in overrides


def test_load_params_merges_the_overlay(tmp_path):
    """A stage run with --overlay sees the overlay's values, and --set on top of both."""
    params = write_params(tmp_path, tiny_params())
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"eval": {"batch_size": 5, "seed": 11},
                                       "tasks": {"word_math": {"eval": {"max_new_tokens": 7, "splits": ["test"]}}}}))
    loaded = load_params(params, "word_math", ("eval",), ["eval.batch_size=3"], overlay=overlay)
    assert (loaded.eval.splits, loaded.eval.max_new_tokens, loaded.eval.batch_size, loaded.eval.seed) == (["test"], 7, 3, 11)
    assert load_params(params, "word_math", ("eval",)).eval.splits == tiny_params()["tasks"]["word_math"]["eval"]["splits"]


def test_every_scale_reports_its_pairs():
    """Each pretrained report compares the tuned model with the untuned one on the same questions."""
    variants = validate_variants(merged(), "pretrained")
    for name, scale in variants.scale.items():
        assert scale.paired, name
        assert all(pair.endswith("base") or pair.endswith("base-plain-eval") for pair in scale.paired.split(","))


def test_the_readme_tables_are_the_committed_metrics():
    """README's pretrained block and docs/results.md's tables are what scripts/results.py writes from
    metrics/pretrained/ (make readme), so they cannot go stale."""
    import re
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "scripts/results.py", "--pretrained"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert "the chat-template matrix" in out and "| instruct | exact_match |" in out
    for path, name in (("README.md", "pretrained"), ("docs/results.md", "pretrained-tables")):
        text = (REPO / path).read_text(encoding="utf-8")
        block = re.search(f"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S).group(1)
        assert "| model |" in block or "| data |" in block, path
        if name == "pretrained":
            assert block.strip() == out.strip().split("\n\n[results]")[0].strip()
