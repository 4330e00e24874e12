"""Params presets (configs/presets/): each one merges into a valid params.yaml, and its -S flags, applied the way
`dvc exp run -S` applies them, give exactly that merged file."""
import pytest
import yaml

from conftest import REPO, set_dotted
from storylab.config.loader import merge, overlaid, read_yaml, validate_data
from storylab.config.presets import PRESETS, preset_flags
from storylab.errors import StorylabError

NAMES = sorted(path.stem for path in (REPO / PRESETS).glob("*.yaml"))


def apply_flags(params: dict, flags: list[str]) -> dict:
    """`-S ++a.b.c=value`: set the dotted key (adding missing levels), the value read as YAML, as DVC does."""
    params = yaml.safe_load(yaml.safe_dump(params))
    for flag in flags[1::2]:
        dotted, _, raw = flag.removeprefix("++").partition("=")
        set_dotted(params, dotted, yaml.safe_load(raw))
    return params


def test_the_gpu_presets_ship():
    assert {"gpu_lora", "gpu_qlora", "pretrained_gpu"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_preset_flags_reproduce_the_merged_params(name, monkeypatch):
    """A preset's -S flags give the merged file: params.yaml, or for a pretrained_* preset the pipeline's overlay
    (flags `-S configs/pretrained.yaml:++key=value`, after the pipeline to run)."""
    monkeypatch.chdir(REPO)
    flags = preset_flags(name)
    params = read_yaml(REPO / "params.yaml")
    preset = read_yaml(REPO / PRESETS / f"{name}.yaml")
    if name.startswith("pretrained_"):
        assert flags[0] == "pretrained/dvc.yaml"
        flags = flags[1:]
        assert all(flag.startswith("configs/pretrained.yaml:++") for flag in flags[1::2])
        flags = [flag.removeprefix("configs/pretrained.yaml:") for flag in flags]
        target = read_yaml(REPO / "configs/pretrained.yaml")
        merged = overlaid(params, merge(target, preset))
    else:
        target = params
        merged = merge(params, preset)
    assert flags[::2] == ["-S"] * (len(flags) // 2)
    assert apply_flags(target, flags) == merge(target, preset)
    validate_data(merged, name, check_models=False)  # the hub models are checked on the GPU machine that runs it


def test_qlora_preset_is_4bit_lora_in_bf16(monkeypatch):
    monkeypatch.chdir(REPO)
    model = read_yaml(REPO / PRESETS / "gpu_qlora.yaml")["tasks"]["tag_story"]["model"]
    assert model["load_in_4bit"] and model["lora"]["enabled"] and model["dtype"] == "bfloat16"


def test_unknown_preset_names_the_known_ones(monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(StorylabError, match="preset 'gpu': configs/presets/gpu.yaml not found; one of: gpu_lora"):
        preset_flags("gpu")
