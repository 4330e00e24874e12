"""spec_story: the generator's guarantees (references meet every constraint, pairs differ by what they say they do
and not by length), the constraint checks on hand-made stories, the SFT truncation (the loss mask still on exactly
the kept story tokens and the end token), standalone scoring and the play CLI's spec input."""
from __future__ import annotations

import json

import pytest
from datasets import Dataset

from conftest import run_script, tiny_params, write_params
from storylab.metrics.writing import cut_repeated_tail, distinct_n, paragraphs, repeated_ngram_share, words
from storylab.tasks.spec_story.generator import HARD_KINDS, generate
from storylab.tasks.spec_story.style import horror_score
from storylab.tasks.spec_story.task import PARAGRAPH_WORDS, TASK, check_constraints, format_spec

SPECS = generate(seed=3, num_specs=400, wholesome_fraction=0.5)


def test_every_reference_story_meets_every_constraint_in_both_registers():
    for record in SPECS:
        for register in ("horror", "wholesome"):
            met = check_constraints(record[register], record["spec"])
            assert all(met.values()), (record["id"], register, met)
            assert all(PARAGRAPH_WORDS[0] <= len(words(p)) <= PARAGRAPH_WORDS[1] for p in paragraphs(record[register]))


def test_hard_rejections_break_exactly_the_named_constraint_and_keep_the_length():
    assert {r["hard_broken"] for r in SPECS} == set(HARD_KINDS)
    for record in SPECS:
        met = check_constraints(record["hard_rejected"], record["spec"])
        assert [name for name, ok in met.items() if not ok] == [record["hard_broken"]], record["id"]
        for rejected in (record["hard_rejected"], record["wholesome"]):
            assert 0.9 <= len(rejected) / len(record["horror"]) <= 1.1


def test_the_style_lexicon_separates_the_registers():
    horror = [horror_score(r["horror"]) for r in SPECS]
    wholesome = [horror_score(r["wholesome"]) for r in SPECS]
    assert min(horror) > 0.5 > max(wholesome)


def test_specs_are_distinct_and_generation_is_seeded():
    assert len({format_spec(r["spec"]) for r in SPECS}) == len(SPECS)
    assert generate(3, 20, 0.5) == SPECS[:20] and generate(4, 20, 0.5) != SPECS[:20]


def test_constraint_checks_on_hand_made_stories():
    spec = {"title": "The Grey Mill", "setting": "a mill", "protagonist": "Mara", "supporting_character": "Mr. Hale",
            "object": "an iron bell", "taboo": "never whistle on the stairs", "twist": "Mara has been dead for years",
            "constraints": "2 to 4 paragraphs"}
    filler = " ".join(["The fog was thick and grey that night."] * 3)
    story = (f"Mara came to the mill. Mr. Hale watched. She found an Iron Bell. {filler}\n\n"
             f"The rule: never whistle on the stairs. {filler} Then Mara understood: Mara has been dead for years.")
    assert all(check_constraints(story, spec).values())
    assert check_constraints(story.replace("\n\n", " "), spec)["paragraphs"] == 0.0  # one paragraph
    assert check_constraints(story.replace("Mr. Hale", "Mr. Hall"), spec)["supporting_character"] == 0.0
    assert check_constraints(story.replace("Iron Bell", "iron bells"), spec)["object"] == 0.0
    assert check_constraints(story.replace("Mara", "Marabel"), spec)["protagonist"] == 0.0  # whole names only
    too_long = story + " " + " ".join(["word"] * 80)
    assert check_constraints(too_long, spec)["paragraphs"] == 0.0
    item = TASK.score_item(story, story, {"spec": spec, "stopped": False}, None)
    assert item["stopped"] == 0.0 and item["correct"] == 0.0  # met everything but did not stop on the end token
    assert TASK.check(story, story, {"spec": spec}) == 1.0


def test_repetition_metrics_and_the_tail_cut():
    loop = "The door opened. The door opened. The door opened. The door opened."
    assert repeated_ngram_share(loop) > 0.5 and repeated_ngram_share("one two three four five six") == 0.0
    assert distinct_n("a b a b a b") == pytest.approx(2 / 5)
    assert cut_repeated_tail("It was dark. A bell rang.\n\nThe bell rang. It was dark. More.") == \
        "It was dark. A bell rang.\n\nThe bell rang."
    assert cut_repeated_tail("No repeat here.\nAt all.") == "No repeat here.\nAt all."


def test_sft_truncation_cuts_the_story_never_the_spec_and_labels_cover_the_kept_story_and_eos(tmp_path):
    """Over-long examples through TRL's own preparation: the loss mask must cover exactly the kept story tokens and
    the end token, the prompt must be whole, and every sequence must fit in max_length."""
    from storylab.config.loader import load_params
    from storylab.modeling import initial_model
    from storylab.prompts import prompts_for
    from storylab.training import StorylabSFTTrainer, sft_config, sft_phases

    params = load_params(write_params(tmp_path, tiny_params()), "spec_story", ("model", "train_sft"))
    records = [{"question": format_spec(r["spec"]), "answer": r["horror"]} for r in SPECS[:12]]
    model, tokenizer = initial_model(params.model, 0, corpus=[r["question"] + " " + r["answer"] for r in records])
    prompts = prompts_for(tokenizer, records, params.model)
    prompt_lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    max_length = max(prompt_lengths) + 80  # every story is longer than 80 tokens: all of them are cut
    dataset = sft_phases(tokenizer, [], records, params.model, mix=True, max_length=max_length)[0]
    config = sft_config(str(tmp_path / "out"), params.train_sft, params.model, max_length=max_length)
    trainer = StorylabSFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    prepared = trainer.train_dataset
    assert len(prepared) == len(records)  # none dropped
    for row, prompt_length, source, record in zip(prepared, prompt_lengths, dataset, records):
        ids, labels = row["input_ids"], row["labels"]
        assert len(ids) <= max_length
        assert ids[:prompt_length] == tokenizer(source["prompt"])["input_ids"]  # the spec is whole
        assert all(label == -100 for label in labels[:prompt_length])  # no loss on the spec
        assert labels[prompt_length:] == ids[prompt_length:]  # loss on every kept story token ...
        assert ids[-1] == tokenizer.eos_token_id  # ... and on the end token after them
        kept = source["completion"].removesuffix(tokenizer.eos_token)
        assert record["answer"].startswith(kept) and len(kept) < len(record["answer"])  # the story's start
        assert kept.endswith((".", "!", "?"))  # cut at a sentence end


def test_standalone_scoring_with_spec_and_optional_reference(tmp_path):
    record = SPECS[0]
    lines = [{"spec": record["spec"], "prediction": record["horror"], "reference": record["horror"]},
             {"spec": record["spec"], "prediction": record["hard_rejected"]}]
    pred_file = tmp_path / "pred.jsonl"
    pred_file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "m.json"
    run_script("eval_accuracy_plus.py", "--task", "spec_story", "--pred_file", str(pred_file), "--out", str(out))
    metrics = json.loads(out.read_text())
    assert metrics["all"]["count"] == 2 and metrics["all"]["correct"]["mean"] == 0.5
    assert metrics["overlap"]["count"] == 1 and metrics["overlap"]["bleu"]["mean"] == pytest.approx(1.0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"spec": {"title": "x"}, "prediction": "y"}) + "\n")
    result = run_script("eval_accuracy_plus.py", "--task", "spec_story", "--pred_file", str(bad), check=False)
    assert result.returncode == 2 and "spec" in result.stderr.strip().splitlines()[-1]


def test_play_reads_a_spec_from_a_file_and_flags(tmp_path, trained_spec_story):
    spec_file = tmp_path / "spec.yaml"
    spec = {k: v for k, v in SPECS[1]["spec"].items() if k not in ("constraints", "title")}
    spec_file.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in spec.items()) + "\n")
    result = run_script("play.py", "--task", "spec_story", "--params", str(trained_spec_story["params"]),
                        "--model_dir", str(trained_spec_story["model"]), "--fields", str(spec_file),
                        "--field", "title=The Salt Road", "--max_new_tokens", "12", "--temperature", "0.7")
    out = result.stdout
    assert "---" in out and "constraints" in out and "</s>" not in out
    missing = run_script("play.py", "--task", "spec_story", "--params", str(trained_spec_story["params"]),
                         "--model_dir", str(trained_spec_story["model"]), "--field", "title=X", check=False)
    assert missing.returncode == 2 and "missing setting" in missing.stderr


@pytest.fixture(scope="module")
def trained_spec_story(tmp_path_factory):
    """A tiny spec_story model (a few SFT steps on tiny data)."""
    root = tmp_path_factory.mktemp("spec_story")
    params = write_params(root, tiny_params())
    run_script("generate_stories.py", "--task", "spec_story", "--params", str(params), "--out_dir", str(root / "raw"),
               "--metrics", str(root / "g.json"))
    run_script("build_qa.py", "--task", "spec_story", "--params", str(params), "--raw_dir", str(root / "raw"),
               "--out_dir", str(root / "qa"), "--metrics", str(root / "b.json"))
    run_script("train_sft.py", "--task", "spec_story", "--params", str(params), "--data_dir", str(root / "qa"),
               "--out_dir", str(root / "sft"), "--live_dir", str(root / "live"), cwd=root)
    return {"params": params, "model": root / "sft"}


def test_preference_pairs_are_scored_for_the_evaluated_specs_only(tmp_path):
    """eval.max_per_split caps the held-out specs and so their pairs: every pair of a scored spec, none other."""
    build = type("P", (), {"seed": 0, "validation_specs": 2, "test_specs": 6})()
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "specs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SPECS[:12]))
    files, _ = TASK.build(build, tmp_path / "raw")
    for name, records in files.items():
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    asked = []

    def logprobs(questions, completions):
        asked.extend(questions)
        return [(-float(len(c)), len(c)) for c in completions]

    scored = files["test.jsonl"][:2]
    result = TASK.model_metrics("test", scored, tmp_path, logprobs, 50, 0)
    assert result["pairs_easy"]["count"] == result["pairs_hard"]["count"] == 2
    assert set(asked) == {r["question"] for r in scored}
    assert len(asked) == len(scored) + 2 * 4  # the reference stories, then chosen and rejected of 4 pairs
