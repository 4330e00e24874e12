"""Ask a trained model one prompt of a task, and see the task's reading of the answer.

    python scripts/play.py --task word_math --model_dir models/word_math/rl \
        --prompt "Mia has 7 apples. She buys 5 more apples. How many apples does Mia have now?"
    echo "Where was Aldith Varnholt born?" | python scripts/play.py --task story_qa --model_dir models/story_qa/sft
    python scripts/play.py --task spec_story --model_dir models/spec_story/rl --fields spec.yaml --field title="The Salt Road"

A task with structured prompts (spec_story's spec) takes them as --field KEY=VALUE flags and/or a YAML/JSON mapping
(--fields FILE; the flags win), and checks the output against them. The prompt is formatted as in training and
evaluation (model.prompt_format of the task). --temperature 0 is greedy (the evaluation's answer); above 0 samples
with --top_p and --seed. The end-of-sequence token is not printed (generation stops on it; its text is never shown),
and a repeated tail is cut: the output stops before the first sentence that repeats an earlier one.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import sys
from pathlib import Path

from storylab.cli import stage_parser, stage_params
from storylab.config.schema import MAX_TOKENS
from storylab.errors import StorylabError, run


def prompt_record(task, args) -> dict:
    """The record to prompt with: structured fields (--fields FILE, --field KEY=VALUE) or the plain --prompt / stdin."""
    from storylab.config.loader import parse_yaml

    if args.fields or args.field:
        fields = {}
        if args.fields:
            path = Path(args.fields)
            if not path.is_file():
                raise StorylabError(f"--fields {path}: file not found")
            fields = parse_yaml(path.read_text(encoding="utf-8"))
            if not isinstance(fields, dict):
                raise StorylabError(f"--fields {path}: expected a YAML/JSON mapping of field: value")
        for item in args.field:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise StorylabError(f"--field {item!r}: expected KEY=VALUE")
            fields[key.strip()] = value
        return task.record_from_fields(fields, "play.py --field/--fields")
    question = args.prompt if args.prompt is not None else sys.stdin.read()
    if not question.strip():
        raise StorylabError("play.py: no prompt: pass --prompt TEXT, pipe it on stdin, or give --field/--fields")
    return {"question": question.strip()}


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--prompt", help="the question (default: read from stdin)")
    parser.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                        help="one field of a structured prompt (spec_story: title, setting, protagonist, ...)")
    parser.add_argument("--fields", metavar="FILE", help="a YAML/JSON mapping of the structured prompt's fields")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default); > 0: sample")
    parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling cut (with --temperature > 0)")
    parser.add_argument("--max_new_tokens", type=int, help="default: the task's eval.max_new_tokens")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    args = parser.parse_args()
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise StorylabError("play.py: --temperature must be >= 0 and --top_p in (0, 1]")
    if args.max_new_tokens is not None and not 1 <= args.max_new_tokens <= MAX_TOKENS:
        raise StorylabError(f"play.py: --max_new_tokens {args.max_new_tokens}: give a count of at least 1 (default: "
                            "the task's eval.max_new_tokens)")
    if not Path(args.model_dir).exists():
        made_by = {"sft": f"train_sft@{args.task}", "base": f"train_rl@{args.task}-base"}
        run_name = Path(args.model_dir).name
        target = made_by.get(run_name, f"train_rl@{args.task}-{run_name}")
        hint = (f"train it first: dvc repro {target} (or make demo for a tiny one in seconds)"
                if Path(args.model_dir).parts[:1] == ("models",) else "fix the path")
        raise StorylabError(f"play.py: --model_dir {args.model_dir}: no such model dir; {hint}")
    task, params = stage_params(args, "model", "eval")
    record = prompt_record(task, args)

    from storylab.generation import check_fits, generate_completions
    from storylab.metrics.writing import cut_repeated_tail
    from storylab.modeling import load_pretrained
    from storylab.prompts import prompts_for

    model, tokenizer = load_pretrained(args.model_dir, params.model)
    prompt = prompts_for(tokenizer, [record], params.model)
    new_tokens = args.max_new_tokens or params.eval.max_new_tokens
    check_fits(model, tokenizer, prompt, new_tokens, "--max_new_tokens")
    completion = generate_completions(model, tokenizer, prompt, 1, new_tokens,
                                      num_samples=1 if args.temperature > 0 else 0,
                                      temperature=args.temperature or 1.0, seed=args.seed, top_p=args.top_p)[0][0]
    text = cut_repeated_tail(completion["text"])
    print(text)
    print("---")
    cut = len(text) < len(completion["text"])
    for line in [*task.describe(text, record),
                 "stopped on the end token" if completion["stopped"] else "cut at max_new_tokens",
                 *(["repeated tail cut (from the first repeated sentence on)"] if cut else [])]:
        print(line)
    return f"{task.name}: {len(text)} characters from {args.model_dir}"


if __name__ == "__main__":
    run(main)
