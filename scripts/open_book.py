"""Open-book vs closed-book on story_qa's held-out questions (Ovadia et al. 2023 compare fine-tuning with retrieval).

The instruct model, trained to answer from a context, answers every held-out story_qa question with (a) the top
BM25 story over all of story_qa's stories, (b) the person's own story (the upper bound), (c) no context; beside
story_qa's closed-book model, which was trained on the stories. Retrieval recall@k: a story of the asked person in
the top k, with the question as the query and with the person's name removed from it.

    python scripts/open_book.py --task instruct --model_dir models/instruct/sft --stories_dir data/story_qa/raw \
        --questions_dir data/story_qa/qa --closed_book metrics/story_qa/eval/sft.json \
        --out metrics/instruct/open_book.json --table metrics/instruct/open_book.md
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from pathlib import Path

from storylab.cli import stage_parser, stage_params
from storylab.errors import run
from storylab.io import read_json, read_jsonl, write_json
from storylab.metrics.stats import mean_ci
from storylab.tasks.base import format_ci
from storylab.tasks.instruct.data import prompt

CONDITIONS = ("bm25", "gold", "none")


def retrieve(stories: list[dict], query_sets: list[list[str]], k: int) -> list[list[list[int]]]:
    """For each set of queries, the indices of each query's top-k stories (one BM25 index over all stories)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([s["text"] for s in stories], stopwords="en", show_progress=False),
                    show_progress=False)
    return [retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=min(k, len(stories)),
                               show_progress=False)[0].tolist() for queries in query_sets]


def recall_at(found: list[list[int]], stories: list[dict], questions: list[dict], ks: list[int], resamples: int,
              seed: int) -> dict:
    return {f"recall_at_{k}": mean_ci([float(any(stories[i]["entity_id"] == q["entity_id"] for i in top[:k]))
                                       for top, q in zip(found, questions)], resamples, seed) for k in ks}


def open_book(task, params, model_dir: str, stories: list[dict], names: dict[str, str], questions: list[dict]) -> dict:
    from storylab.generation import generate_completions
    from storylab.modeling import load_pretrained
    from storylab.prompts import prompts_for

    ob, ev = params.open_book, params.eval
    depth = max(*ob.recall_at, ob.context_stories)
    found, nameless = retrieve(stories, [[q["question"] for q in questions],
                                         [q["question"].replace(names[q["entity_id"]], "") for q in questions]], depth)
    own_story = {}
    for story in sorted(stories, key=lambda s: s["story_id"]):
        own_story.setdefault(story["entity_id"], story["text"])
    contexts = {"bm25": [" ".join(stories[i]["text"] for i in top[:ob.context_stories]) for top in found],
                "gold": [own_story[q["entity_id"]] for q in questions], "none": [""] * len(questions)}
    model, tokenizer = load_pretrained(model_dir, params.model)
    result = {"retrieval": {"question": recall_at(found, stories, questions, ob.recall_at, ev.bootstrap_resamples, ev.seed),
                            "question_without_name": recall_at(nameless, stories, questions, ob.recall_at,
                                                               ev.bootstrap_resamples, ev.seed)}}
    for condition in CONDITIONS:
        records = [{"question": prompt(q["question"], context)} for q, context in zip(questions, contexts[condition])]
        completions = generate_completions(model, tokenizer, prompts_for(tokenizer, records, params.model),
                                           ev.batch_size, ev.max_new_tokens)
        scored = [{**q, "gold": q["answer"], "prediction": c[0]["text"]} for q, c in zip(questions, completions)]
        result[condition] = task.score(scored, params.score, ev.bootstrap_resamples, ev.seed)
    return result


def table(result: dict, closed_book: dict, ks: list[int]) -> str:
    rows = [("instruct model + BM25 top story", result["bm25"]["all"]),
            ("instruct model + the person's own story (upper bound)", result["gold"]["all"]),
            ("instruct model, no context", result["none"]["all"]),
            (f"story_qa closed-book model ({closed_book['model']}, trained on the stories)", closed_book["test"]["all"])]
    lines = ["| condition | exact match | token F1 |", "|---|---|---|"]
    lines += [f"| {name} | {format_ci(block['exact_match'])} | {format_ci(block['token_f1'])} |" for name, block in rows]
    lines += ["", "| BM25 query | " + " | ".join(f"recall@{k}" for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
    for name, key in (("the question", "question"), ("the question, name removed", "question_without_name")):
        lines.append(f"| {name} | " + " | ".join(format_ci(result["retrieval"][key][f"recall_at_{k}"]) for k in ks) + " |")
    return "\n".join(lines) + "\n"


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--model_dir", required=True, help="a model trained on the instruct task")
    parser.add_argument("--stories_dir", required=True, help="story_qa's generate_stories output (stories, people)")
    parser.add_argument("--questions_dir", required=True, help="story_qa's build_qa output (its test split)")
    parser.add_argument("--closed_book", required=True, help="story_qa's eval_accuracy_plus metrics of a model")
    parser.add_argument("--out", required=True, help="the metrics JSON")
    parser.add_argument("--table", required=True, help="the markdown table")
    args = parser.parse_args()
    task, params = stage_params(args, "model", "eval", "score", "open_book")
    stories = read_jsonl(Path(args.stories_dir, "stories.jsonl"), required=("story_id", "entity_id", "text"))
    names = {e["entity_id"]: e["name"] for e in read_jsonl(Path(args.stories_dir, "entities.jsonl"),
                                                           required=("entity_id", "name"))}
    questions = read_jsonl(Path(args.questions_dir, "test.jsonl"), required=("id", "entity_id", "question", "answer"))
    closed_book = read_json(args.closed_book, required=("model", "test"))

    result = open_book(task, params, args.model_dir, stories, names, questions)
    write_json(args.out, {"metric_version": task.metric_version, "model_dir": args.model_dir,
                          "questions": len(questions), "stories": len(stories),
                          "closed_book": {"model": closed_book["model"], "test": closed_book["test"]["all"]}, **result})
    Path(args.table).write_text(table(result, closed_book, params.open_book.recall_at))
    em = {c: result[c]["all"]["exact_match"]["mean"] for c in CONDITIONS}
    return (f"open-book EM: bm25 {em['bm25']:.3f}, gold {em['gold']:.3f}, none {em['none']:.3f}; closed-book "
            f"{closed_book['test']['all']['exact_match']['mean']:.3f} -> {args.out}")


if __name__ == "__main__":
    run(main)
