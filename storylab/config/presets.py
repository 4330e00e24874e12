"""Named params presets: configs/presets/<name>.yaml is a partial params.yaml (same layout) merged over the real
one. `make preset PRESET=gpu_lora` runs it as a DVC experiment (`dvc exp run -S ...`; params.yaml itself is not
edited); `python -m storylab.config.presets NAME` validates the merged params and prints those -S flags."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from storylab.config.loader import merge, read_yaml, validate_data
from storylab.errors import StorylabError, run

PRESETS = Path("configs/presets")


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
    path = PRESETS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml"))) or "none"
        raise StorylabError(f"preset {name!r}: {path} not found; one of: {known}")
    preset = read_yaml(path)
    # The preset's models are checked where it runs (the validate_params stage of `dvc exp run`), not here.
    validate_data(merge(read_yaml(Path(params_path)), preset), f"{params_path} + {path}", check_models=False)
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
