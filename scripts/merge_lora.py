"""Fold a LoRA model dir's adapters into the base weights and save a plain model dir (for serving, or for tools
without PEFT), with the recipe and model card of the adapter dir.

    python scripts/merge_lora.py --task instruct --model_dir models/instruct/sft --out_dir models/instruct/sft-merged

Reads the task's model section (dtype, trust_remote_code); the base loads unquantised even for a QLoRA run.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from storylab.cli import stage_parser, stage_params
from storylab.errors import run
from storylab.io import read_recipe
from storylab.modeling import merge_lora
from storylab.training import save_model


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--model_dir", required=True, help="a LoRA model dir written by train_sft / train_rl")
    parser.add_argument("--out_dir", required=True)
    args = parser.parse_args()
    _, params = stage_params(args, "model")
    model, tokenizer = merge_lora(args.model_dir, params.model)
    save_model(model, tokenizer, args.out_dir, read_recipe(args.model_dir))
    return f"{args.model_dir} merged -> {args.out_dir}"


if __name__ == "__main__":
    run(main)
