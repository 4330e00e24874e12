"""Ask a trained model one question of a task, and see the task's reading of the answer.

    python scripts/play.py --task word_math --model_dir models/word_math/rl \
        --prompt "Mia has 7 apples. She buys 5 more apples. How many apples does Mia have now?"
    echo "Where was Aldith Varnholt born?" | python scripts/play.py --task story_qa --model_dir models/story_qa/sft

The prompt is formatted as in training and evaluation (model.prompt_format of the task). --temperature 0 is
greedy (the evaluation's answer); above 0 samples with --top_p and --seed. The end-of-sequence token is not printed.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import sys

from storylab.cli import stage_parser, stage_params
from storylab.errors import StorylabError, run


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--prompt", help="the question (default: read from stdin)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default); > 0: sample")
    parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling cut (with --temperature > 0)")
    parser.add_argument("--max_new_tokens", type=int, help="default: the task's eval.max_new_tokens")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    args = parser.parse_args()
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise StorylabError("play.py: --temperature must be >= 0 and --top_p in (0, 1]")
    task, params = stage_params(args, "model", "eval")
    question = args.prompt if args.prompt is not None else sys.stdin.read()
    if not question.strip():
        raise StorylabError("play.py: no question: pass --prompt TEXT or pipe it on stdin")

    from storylab.generation import generate_completions
    from storylab.modeling import load_pretrained
    from storylab.prompts import prompts_for

    model, tokenizer = load_pretrained(args.model_dir, params.model)
    prompt = prompts_for(tokenizer, [{"question": question.strip()}], params.model)
    completion = generate_completions(model, tokenizer, prompt, 1, args.max_new_tokens or params.eval.max_new_tokens,
                                      num_samples=1 if args.temperature > 0 else 0,
                                      temperature=args.temperature or 1.0, seed=args.seed, top_p=args.top_p)[0][0]
    print(completion["text"])
    print("---")
    for line in [*task.describe(completion["text"]),
                 "stopped on the end token" if completion["stopped"] else "cut at max_new_tokens"]:
        print(line)
    return f"{task.name}: {len(completion['text'])} characters from {args.model_dir}"


if __name__ == "__main__":
    run(main)
