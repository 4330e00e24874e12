"""spec_story's report sections: constraints, text statistics, preference pairs, style and repetition against SFT
(paired bootstrap with eval.bootstrap_resamples and eval.seed), sample stories."""
from __future__ import annotations

import pandas as pd

from storylab.metrics.stats import paired_difference_ci
from storylab.tasks.base import format_ci, side_by_side


def report_sections(task, evals: list[dict], predictions: dict, resamples: int, seed: int) -> list[str]:
    split = task.heldout_split
    constraint_rows, text_rows, pref_rows = [], [], []
    for result in evals:
        block = result[split]["all"]
        constraint_rows.append({"model": result["model"], **{name: format_ci(block.get(name)) for name in
                                                             (*task.constraints, "stopped", "correct")},
                                "all, sampled": format_ci(block.get("sampled_correct"))})
        ppl = result[split].get("reference_ppl", {}).get("perplexity")
        text_rows.append({"model": result["model"], "repeated 4-grams": format_ci(block["repeated_4gram"]),
                          "distinct-2": format_ci(block["distinct_2"]), "style": format_ci(block["style"]),
                          "BLEU": format_ci(result[split]["overlap"]["bleu"]), "ROUGE-L": format_ci(result[split]["overlap"]["rouge_l"]),
                          "reference perplexity": format_ci(ppl, 2), "words": format_ci(block["words"], 1)})
        for kind in ("easy", "hard"):
            pairs = result[split].get(f"pairs_{kind}")
            if pairs:
                pref_rows.append({"model": result["model"], "pairs": kind, "count": pairs["count"],
                                  "log p(chosen) > log p(rejected)": format_ci(pairs["logprob_accuracy"]),
                                  "log-prob margin": format_ci(pairs["logprob_margin"], 1)})
    reference = evals[0][split]["reference"]
    sections = [
        "## Constraints on held-out specs (greedy; share of stories meeting each)", 
        pd.DataFrame(constraint_rows).to_markdown(index=False),
        "`correct`: every constraint at once, stopped on the end token included (read from the token ids). "
        "`all, sampled`: the same on samples at eval.sample_temperature.",
        "## Text: repetition, style, overlap with the reference, perplexity",
        pd.DataFrame(text_rows).to_markdown(index=False),
        f"Reference stories: repeated 4-grams {format_ci(reference['repeated_4gram'])}, distinct-2 "
        f"{format_ci(reference['distinct_2'])}, style {format_ci(reference['style'])}. Style: share of horror words among the "
        "words of a hand-written horror/wholesome lexicon (storylab/tasks/spec_story/style.py, fitted on nothing). "
        "Reference perplexity: of the held-out horror reference stories given their spec (end token included)."]
    if pref_rows:
        sections += ["## Held-out preference pairs: does the model give the chosen story the higher log-probability?",
                     pd.DataFrame(pref_rows).to_markdown(index=False),
                     "DPO's own held-out reward accuracies (implicit reward against the frozen SFT model) are in "
                     "the RL lines below."]
    if "sft" in predictions:
        lines = []
        for after in [name for name in predictions if name != "sft"]:
            for metric in ("style", "repeated_4gram"):
                diff = paired_item_difference(task, predictions, after, "sft", metric, resamples, seed)
                lines.append(f"- {after} minus sft, {metric}: {diff['difference']:+.3f} (95% paired bootstrap CI "
                             f"[{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}], {resamples} resamples)")
        sections += ["## Style and repetition against SFT, paired over the held-out specs", "\n".join(lines)]
    if predictions:
        sections += ["## Sample stories (the first held-out specs, greedy)", *side_by_side(predictions, 5)]
    return sections


def paired_item_difference(task, predictions: dict, after: str, before: str, metric: str, resamples: int,
                           seed: int) -> dict:
    ids = list(predictions[before])
    values = {name: [task.score_item(predictions[name][i]["prediction"], "", predictions[name][i], None)[metric]
                     for i in ids] for name in (after, before)}
    return paired_difference_ci(values[after], values[before], resamples, seed)
