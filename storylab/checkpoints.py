"""Checkpoints of a training stage: where they live (outside every DVC output), when an interrupted run may resume
from one (same command, params, inputs and code), and the trainer checkpoint kept beside a finished model so a
later run (the control, expert iteration) continues that very run."""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch


# A model dir written by a training stage holds the trainer checkpoint of that model (optimizer, scheduler, RNG and
# data position), so the control run can continue the very same SFT run from it.
TRAINER_CHECKPOINT = "trainer_checkpoint"
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def checkpoint_dir(out_dir: str) -> Path:
    """Where a stage writing `out_dir` keeps its checkpoints: under an ignored `.checkpoints/` outside every DVC
    output (models/word_math/sft -> .checkpoints/models/word_math/sft; an absolute out_dir keeps its full path)."""
    return Path(".checkpoints", *Path(out_dir).parts[Path(out_dir).is_absolute():])


def run_fingerprint(params, inputs: list[str]) -> str:
    """What a checkpoint must have been made under to be resumed: the stage's command line, its params, and the bytes
    of its inputs and of the code (storylab/ and the script). Anything else is a different run."""
    digest = hashlib.sha256(json.dumps([sys.argv[1:], {name: section.model_dump() for name, section in
                                                        vars(params).items()}], sort_keys=True).encode())
    code = [*Path(__file__).parent.rglob("*.py"), Path(sys.argv[0])]
    files = sorted({f for path in map(Path, inputs) for f in ([path] if path.is_file() else path.rglob("*"))
                    if f.is_file()} | set(code))
    for file in files:
        digest.update(str(file).encode() + file.read_bytes())
    return digest.hexdigest()


def complete_checkpoints(folder: Path) -> list[Path]:
    """checkpoint-<step> dirs that hold a whole trainer state, latest first (one cut short by a kill is skipped)."""
    found = [path for path in folder.glob("checkpoint-*") if all((path / name).is_file() for name in CHECKPOINT_FILES)]
    return sorted(found, key=lambda path: int(path.name.split("-")[-1]), reverse=True)


def resume_point(out_dir: str, fingerprint: str) -> str | None:
    """The latest checkpoint of an interrupted run with the same fingerprint, or None. Checkpoints of any other run
    (other params, inputs or code) are deleted first, so they are never resumed. Under several processes the main one
    cleans up while the others wait, then all resume from the same checkpoint."""
    root = checkpoint_dir(out_dir)
    marker = root / "fingerprint"

    def latest() -> list[Path]:
        return complete_checkpoints(root) if marker.is_file() and marker.read_text() == fingerprint else []

    state = process_state()
    if state.is_main_process and not latest():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        marker.write_text(fingerprint)
    state.wait_for_everyone()
    checkpoints = latest()
    return str(checkpoints[0]) if checkpoints else None


def process_state():
    """accelerate's view of this process (rank, main or not); one process unless started by `accelerate launch`
    with a multi-process config (configs/accelerate/). Only the main process writes files of its own: curves,
    recipe, model card, metrics; the trainer's save_model runs on every process (FSDP / ZeRO-3 gather there)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def finish_checkpoints(trainer, out_dir: str, keep: bool) -> None:
    """The run finished: with `keep`, copy the checkpoint of the saved model (the selected one, or the last) into the
    model dir, so training can continue from it; then delete the run's checkpoints, nothing is left to resume."""
    if not process_state().is_main_process:
        return
    if keep:
        selected = trainer.args.load_best_model_at_end and trainer.state.best_model_checkpoint
        chosen = selected or str(complete_checkpoints(Path(trainer.args.output_dir))[0])
        shutil.copytree(chosen, Path(out_dir, TRAINER_CHECKPOINT), dirs_exist_ok=True)
    shutil.rmtree(trainer.args.output_dir, ignore_errors=True)


def checkpoint_settings(out_dir: str, every: int) -> dict:
    """TRL config keywords: checkpoints every `every` steps (and at the end) under checkpoint_dir(out_dir)."""
    return {"output_dir": str(checkpoint_dir(out_dir)), "save_strategy": "steps", "save_steps": every,
            "save_total_limit": 2}
