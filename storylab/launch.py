"""`python -m storylab.launch CONFIG SCRIPT [ARGS...]`: `accelerate launch --config_file CONFIG SCRIPT ARGS` with the
stage's own exit code. accelerate turns any failure of the script into exit code 1 (and, without --quiet, a
traceback of its own), so bad input would no longer read as bad input (exit 2) to DVC, make and CI. The script's
errors.run writes its code to the file named by errors.EXIT_FILE; this reads it back.

Precision is params' alone (model.dtype, through the trainers' bf16 / fp16): the launch runs with mixed_precision
`no`, which a trainer's own flags override. A config without `num_processes` (ddp_gpu, fsdp, deepspeed_zero3) starts
one process per visible GPU; asked for on fewer than two GPUs, or for DeepSpeed without the package, it stops here in
one line, before any process starts."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from storylab.errors import EXIT_FILE


def launch_flags(config_path: str) -> list[str]:
    """accelerate launch flags over the config file's: precision from params, processes from the machine. Raises
    ValueError with the one-line reason for a config this machine cannot start."""
    config = yaml.safe_load(Path(config_path).read_text()) or {}
    flags = ["--mixed_precision", "no"]
    if config.get("distributed_type") == "DEEPSPEED" and importlib.util.find_spec("deepspeed") is None:
        raise ValueError(f"{config_path}: needs DeepSpeed, which is not installed; make venv installs it on a machine "
                         "with an NVIDIA GPU (requirements-gpu.lock), or choose launch.config fsdp")
    if config.get("num_processes") is None:
        import torch

        gpus = torch.cuda.device_count()
        if gpus < 2:
            raise ValueError(f"{config_path}: starts one process per GPU and {gpus} are visible (it needs 2 or more); "
                             "set launch.config: single (ddp_cpu tries the multi-process path on the CPU)")
        flags += ["--num_processes", str(gpus)]
    return flags


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("error: usage: python -m storylab.launch CONFIG.yaml SCRIPT.py [ARGS...]", file=sys.stderr)
        return 2
    config, *command = argv
    if not Path(config).is_file():
        print(f"error: {config}: accelerate config not found; see configs/accelerate/ (params.yaml: launch.config)",
              file=sys.stderr)
        return 2
    try:
        flags = launch_flags(config)
    except ValueError as exc:
        print(f"error: params.yaml: launch.config: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        exit_file = Path(folder, "exit")
        env = {**os.environ, EXIT_FILE: str(exit_file)}
        if Path(config).stem.endswith("_cpu"):  # ddp_cpu: the multi-process path on the CPU, on a GPU machine too
            env["CUDA_VISIBLE_DEVICES"] = ""
        code = subprocess.call([sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--config_file", config,
                                *flags, *command], env=env)
        written = exit_file.read_text().split() if exit_file.is_file() else []
    return int(written[0]) if code and written else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
