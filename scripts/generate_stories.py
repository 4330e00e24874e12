"""Generate the story corpus and the ground-truth facts behind it.

    python scripts/generate_stories.py --params params.yaml --out_dir data/stories --metrics metrics/stories.json
"""
from __future__ import annotations

import argparse
import statistics

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import run
from storylab.io import write_json, write_jsonl
from storylab.stories import generate


def corpus_stats(entities, stories) -> dict:
    words = [len(story["text"].split()) for story in stories]
    return {"entities_with_story": sum(e.has_story for e in entities),
            "entities_without_story": sum(not e.has_story for e in entities),
            "stories": len(stories),
            "words_per_story": {"mean": round(statistics.mean(words), 2), "min": min(words), "max": max(words)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(parser)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    overrides = overrides_from(args)
    params = load_section("generate_stories", args.params, overrides)

    entities, stories = generate(**params.model_dump())
    write_jsonl(f"{args.out_dir}/entities.jsonl", [e.to_record() for e in entities])
    write_jsonl(f"{args.out_dir}/stories.jsonl", stories)
    story_map = {}
    for story in stories:  # plotline (one person's life) -> the stories that tell it
        story_map.setdefault(story["entity_id"], []).append(story["story_id"])
    write_json(f"{args.out_dir}/story_map.json", story_map)
    stats = corpus_stats(entities, stories)
    write_json(args.metrics, stats)
    print(f"{stats['stories']} stories about {stats['entities_with_story']} people "
          f"(+{stats['entities_without_story']} with no story) -> {args.out_dir}")


if __name__ == "__main__":
    run(main)
