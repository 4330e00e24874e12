"""Named params presets: configs/presets/<name>.yaml is a partial params.yaml (same layout) merged over the real
one. `make preset PRESET=gpu_lora` runs it as a DVC experiment (`dvc exp run -S ...`; params.yaml itself is not
edited); `python -m storylab.config.presets NAME` validates the merged params and prints those -S flags.

A preset named pretrained_* is merged over the pretrained pipeline's overlay (configs/pretrained.yaml) instead, and
runs that pipeline (pretrained/dvc.yaml): its flags are `-S configs/pretrained.yaml:++key=value`."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from storylab.config.loader import merge, overlaid, read_yaml, validate_data
from storylab.errors import StorylabError, run

PRESETS = Path("configs/presets")
PRETRAINED = ("pretrained_", Path("configs/pretrained.yaml"), "pretrained/dvc.yaml")  # prefix, overlay, pipeline


def flatten(tree: dict, prefix: str = "") -> dict:
    """{"model": {"lora": {"r": 8}}} -> {"model.lora.r": 8}: the dotted keys `dvc exp run -S` takes."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def preset_flags(name: str, params_path: str = "params.yaml") -> list[str]:
    """The `dvc exp run` arguments: -S flags, preceded by the pipeline for a pretrained_* preset."""
    path = PRESETS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml"))) or "none"
        raise StorylabError(f"preset {name!r}: {path} not found; one of: {known}")
    preset = read_yaml(path)
    params = read_yaml(Path(params_path))
    prefix, overlay, pipeline = PRETRAINED
    # The preset's models are checked where it runs (the validate_params stage of `dvc exp run`), not here.
    if name.startswith(prefix):
        merged = overlaid(params, merge(read_yaml(overlay), preset))
        validate_data(merged, f"{params_path} + {overlay} + {path}", check_models=False)
        return [pipeline, *(f"{overlay}:{flag}" if flag != "-S" else flag for flag in dotted_flags(preset, path))]
    validate_data(merge(params, preset), f"{params_path} + {path}", check_models=False)
    return dotted_flags(preset, path)


def dotted_flags(preset: dict, path: Path) -> list[str]:
    flags = []
    for key, value in flatten(preset).items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")
        if any(char.isspace() for char in text):
            raise StorylabError(f"{path}: {key}: a value with spaces cannot go through -S here; write it in params.yaml")
        flags += ["-S", f"++{key}={text}"]  # ++: add the key, or set it where it exists
    return flags


def main() -> None:
    if len(sys.argv) != 2:
        raise StorylabError("usage: python -m storylab.config.presets NAME (a file of configs/presets/)")
    print(" ".join(preset_flags(sys.argv[1])))


if __name__ == "__main__":
    run(main, "storylab.config.presets")
