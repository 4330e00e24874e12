"""A first look at storylab in a few minutes: one task end to end (data, SFT, RL and its control, evaluation,
report) on the tiny params (configs/tiny.yaml), in a scratch copy of the repo, so the real pipeline, its models and
its metrics are not touched. It ends with the results table, where to look, and a play.py command that works on
the model it just trained. `make demo` runs it.

    python scripts/demo.py --task word_math --dir .demo

The tiny model is one layer trained for a few steps: its answers are noise. The point is the shape of a run; for
real numbers run `make all` (the default params) and read `make results`.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from storylab.cli import OneLineParser
from storylab.config.loader import read_yaml, validate_data
from storylab.errors import StorylabError, run
from storylab.io import check_outputs, read_jsonl
from storylab.tiny import tiny_params

REPO = Path(__file__).resolve().parents[1]
MARKER = ".storylab-demo"  # a dir holding it was made by this script and may be replaced
SKIPPED = ("metrics/", "dvclive/", "models/", "data/", "pretrained/", "variants/")  # results; other pipelines


def workspace(folder: Path) -> None:
    """A copy of the repo's tracked files (code, dvc.yaml, configs), without results, as its own git repo."""
    if folder.exists():
        if not (folder / MARKER).is_file():
            raise StorylabError(f"--dir {folder}: exists and was not made by the demo; name a new dir")
        shutil.rmtree(folder)
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        keep = not name.startswith(SKIPPED) and not name.endswith("dvc.lock")
        if (keep or name.endswith(("/seeds.csv", ".gitignore")) or name == "data/external/README.md") \
                and (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    (folder / MARKER).write_text("made by scripts/demo.py; `make demo` replaces it\n")


def sh(*cmd: str, cwd: Path, env: dict) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode:
        raise StorylabError(f"demo: `{' '.join(cmd)}` failed in {cwd} (exit {result.returncode}): "
                            f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    return result.stdout


def main() -> str:
    parser = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           allow_abbrev=False)
    parser.add_argument("--task", default="word_math", help="a task of params.yaml (default: word_math)")
    parser.add_argument("--dir", default=".demo", help="the scratch workspace (default: .demo, git- and DVC-ignored)")
    args = parser.parse_args()
    folder = Path(args.dir).resolve()
    check_outputs(dirs=[str(folder)])
    params = tiny_params(read_yaml(REPO / "params.yaml"), only=(args.task,))
    validate_data(params, f"configs/tiny.yaml over params.yaml (task {args.task})")

    workspace(folder)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The copy's own package shadows the installed one; the venv's python and dvc run its stages.
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(folder), "DVC_NO_ANALYTICS": "1",
           "HF_HUB_OFFLINE": "1"}
    identity = ("-c", "user.name=storylab demo", "-c", "user.email=demo@localhost")
    sh("git", "init", "-q", cwd=folder, env=env)
    sh("git", "add", "-A", cwd=folder, env=env)
    sh("git", *identity, "commit", "-qm", "storylab demo workspace", cwd=folder, env=env)
    print(f"demo: {args.task} on the tiny params in {folder} (dvc repro report@{args.task}) ...", flush=True)
    repro = subprocess.run([str(Path(bin_dir, "dvc")), "repro", f"report@{args.task}"], cwd=folder, env=env)
    if repro.returncode:
        raise StorylabError(f"demo: dvc repro report@{args.task} failed in {folder} (exit {repro.returncode}); "
                            "its output is above")

    print(sh(sys.executable, str(REPO / "scripts/results.py"), "--metrics_dir", str(folder / "metrics"),
             cwd=REPO, env=env))
    question = read_jsonl(folder / f"data/{args.task}/qa/test.jsonl", required=("question",))[0]["question"]
    model = folder / f"models/{args.task}/{'rl' if (folder / f'models/{args.task}/rl').is_dir() else 'sft'}"
    play = [sys.executable, "scripts/play.py", "--params", str(folder / "params.yaml"), "--task", args.task,
            "--model_dir", str(model), "--prompt", question]
    answer = sh(*play, cwd=REPO, env=env)  # the command printed below, run once: it works on what was trained
    shown = shlex.join(["python", *play[1:]])
    print(f"Where to look (in {folder}):\n"
          f"  metrics/{args.task}/report/summary.md   the report: every model, CIs, RL minus SFT and the control\n"
          f"  metrics/{args.task}/eval/*.json         every number;  data/{args.task}/predictions/  every answer\n"
          f"  dvclive/{args.task}/                    training curves (dvc plots show, run there)\n"
          f"Ask the model yourself (from this repo):\n  {shown}\n"
          f"It answered: {answer.split('---')[0].strip() or '(nothing: it ended at once)'} "
          "(one layer, a few steps: noise; `make all` trains the real thing)")
    return f"demo of {args.task} -> {folder}"


if __name__ == "__main__":
    run(main)
