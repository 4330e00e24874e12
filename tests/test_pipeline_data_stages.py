"""The pretrained pipeline's data stages, run by DVC with its own overlay, as `make pretrained` and `make preset
PRESET=pretrained_gpu` run them (the core and variants pipelines run whole in test_smoke / test_variants_pipeline).
A README command broke unseen here once: the overlay's `harder_test_problems: 0` made build_qa@word_math crash.

The imported SmolLM2 is stood in for by the tiny model saved where import_model writes it: every stage checks that
the model exists before it starts, and the data stages read nothing else of it."""
import json

import pytest
import yaml

from conftest import REPO, tiny_params
from pipeline import DVC, commit_all, repo_copy, sh, stages_run
from storylab.config.loader import merge, read_yaml
from storylab.config.schema import ModelParams
from storylab.modeling import build_tiny_model, train_tiny_tokenizer

pytestmark = pytest.mark.slow

OVERLAY = "configs/pretrained.yaml"


def stand_in_model(root):
    """The tiny model, saved where scripts/import_model.py writes the imported one."""
    name = read_yaml(REPO / OVERLAY)["model"]["name_or_path"]
    params = ModelParams.model_validate(tiny_params(model={"tiny": {"max_position_embeddings": 2048}})["model"])
    tokenizer = train_tiny_tokenizer(["a stand-in for the imported model"] * 4, params.tiny.vocab_size)
    build_tiny_model(params, tokenizer, seed=0).save_pretrained(root / name)
    tokenizer.save_pretrained(root / name)


@pytest.mark.parametrize("preset", [None, "pretrained_gpu"])
def test_the_pretrained_pipelines_data_stages_run_with_its_overlay(tmp_path, preset):
    root = repo_copy(tmp_path)
    if preset:  # what `make preset` sets with -S flags, written into the overlay, over the real params (its scales)
        overlay = merge(read_yaml(root / OVERLAY), read_yaml(root / f"configs/presets/{preset}.yaml"))
        (root / OVERLAY).write_text(yaml.safe_dump(overlay, sort_keys=False))
        (root / "params.yaml").write_text((REPO / "params.yaml").read_text())
        commit_all(root, preset)
    stand_in_model(root)
    scales = read_yaml(root / OVERLAY)["variants"]["scale"]
    output = sh(DVC, "repro", "pretrained/dvc.yaml:generate_stories", "pretrained/dvc.yaml:build_qa", cwd=root)
    assert stages_run(output) == {f"pretrained/dvc.yaml:{stage}@{key}"
                                  for key in scales for stage in ("generate_stories", "build_qa")}
    for key, scale in scales.items():
        counts = json.loads((root / f"metrics/pretrained/{key}/build_qa.json").read_text())
        assert counts, key
        splits = {path.stem for path in (root / f"data/pretrained/{key}/qa").glob("*.jsonl")}
        assert {"train", "test"} <= splits, (key, splits)
    harder = read_yaml(root / OVERLAY)["tasks"]["word_math"]["build_qa"].get("harder_test_problems")
    assert ("test_harder" in {path.stem for path in (root / "data/pretrained/word_math/qa").glob("*.jsonl")}) == \
        bool(harder), "word_math's optional split follows harder_test_problems"


@pytest.mark.parametrize("preset", ["gpu_lora", "gpu_qlora"])
def test_a_gpu_preset_runs_its_data_stages_and_a_training_step_on_the_cpu(tmp_path, preset):
    """The preset merged over params.yaml, as `make preset` runs it, with its hub model stood in for by the tiny one
    (nothing is downloaded here): its task's data stages and one SFT step in the preset's dtype and batch. QLoRA's
    4-bit load is GPU-only: on the CPU it stops in one line, and the step runs without it (said in the skip below)."""
    import torch

    from conftest import run_script, run_stage_here

    overrides = read_yaml(REPO / f"configs/presets/{preset}.yaml")
    (task,) = overrides["tasks"]
    stand_in_model(tmp_path)
    model_dir = tmp_path / read_yaml(REPO / OVERLAY)["model"]["name_or_path"]
    params = merge(merge(read_yaml(REPO / "params.yaml"), overrides), {"tasks": {task: {
        "model": {"name_or_path": str(model_dir)}, "train_sft": {"max_steps": 1, "select_every": 0}}}})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run_stage_here("generate_stories.py", "--params", str(path), "--task", task, "--out_dir", str(tmp_path / "raw"),
                   "--metrics", str(tmp_path / "raw.json"))
    run_stage_here("build_qa.py", "--params", str(path), "--task", task, "--raw_dir", str(tmp_path / "raw"),
                   "--out_dir", str(tmp_path / "qa"), "--metrics", str(tmp_path / "qa.json"))
    train = ("train_sft.py", "--params", str(path), "--task", task, "--data_dir", str(tmp_path / "qa"),
             "--out_dir", str(tmp_path / "sft"), "--live_dir", str(tmp_path / "live"))
    four_bit = params["tasks"][task]["model"].get("load_in_4bit")
    if four_bit and not torch.cuda.is_available():
        result = run_script(*train, check=False)
        assert result.returncode == 2 and "QLoRA needs a CUDA GPU" in result.stderr, result.stderr
        params["tasks"][task]["model"]["load_in_4bit"] = False
        path.write_text(yaml.safe_dump(params, sort_keys=False))
    run_stage_here(*train)
    assert (tmp_path / "sft" / "adapter_config.json").is_file()  # the preset's LoRA adapter, trained one step
    if four_bit and not torch.cuda.is_available():
        pytest.skip("the 4-bit load is GPU-only: the step ran as LoRA in bf16 (make gpu-check runs QLoRA on a GPU)")
