"""Build question-answer pairs from the facts, split by entity (held-out entities test extraction), and
DPO preference pairs (true vs another person's answer) for the same train and test questions.

    python scripts/build_qa.py --params params.yaml --entities data/stories/entities.jsonl \
        --out_dir data/qa --metrics metrics/qa.json
"""
from __future__ import annotations

import argparse
from collections import Counter

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import StorylabError, run
from storylab.io import read_jsonl, write_json, write_jsonl
from storylab.qa import SPLITS, build_pairs, find_leaks, preference_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(parser)
    parser.add_argument("--entities", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    overrides = overrides_from(args)
    params = load_section("build_qa", args.params, overrides)
    entities = read_jsonl(args.entities, required=("entity_id", "name", "facts", "has_story"))

    pairs = build_pairs(entities, params.test_fraction, params.train_phrasings_per_fact, params.seed)
    by_split = {split: [p for p in pairs if p["split"] == split] for split in SPLITS}
    preferences = preference_pairs(pairs, entities, params.seed)
    train_texts = [p["question"] + " " + p["answer"] for p in by_split["train"]]
    train_texts += [f"{p['question']} {p['chosen']} {p['rejected']}" for p in preferences if p["split"] == "train"]
    leaks = find_leaks(train_texts, by_split["test"] + by_split["unseen"])
    if leaks:
        raise StorylabError(f"held-out question leaked into train QA: {leaks[0]['question']!r}")
    for split, split_pairs in by_split.items():
        write_jsonl(f"{args.out_dir}/{split}.jsonl", split_pairs)
    write_json(f"{args.out_dir}/qa_pairs.json", pairs)
    for split in ("train", "test"):
        write_jsonl(f"{args.out_dir}/preferences_{split}.jsonl", [p for p in preferences if p["split"] == split])
    counts = {split: {"questions": len(split_pairs), "entities": len({p["entity_id"] for p in split_pairs}),
                      "by_fact_type": dict(sorted(Counter(p["fact_type"] for p in split_pairs).items()))}
              for split, split_pairs in by_split.items()}
    write_json(args.metrics, counts)
    print(", ".join(f"{split}: {c['questions']} questions / {c['entities']} people" for split, c in counts.items()))


if __name__ == "__main__":
    run(main)
