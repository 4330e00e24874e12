"""instruct: the user's Dolly-layout file (JSONL, CSV, Parquet, other column names) through `datasets`, one-line
errors for bad files, splits by group, and prompt truncation that cuts the context, never the instruction."""
import pandas as pd
import pytest

from conftest import tiny_params, write_params
from storylab.config.loader import load_params
from storylab.errors import StorylabError
from storylab.io import write_files
from storylab.tasks import get_task
from storylab.tasks.instruct.data import cut_context, prompt

TASK = get_task("instruct")
ROWS = [{"prompt": f"Question {i}?", "passage": "" if i % 3 == 0 else f"Passage {i} says {i}. It is long. Very long.",
         "output": f"Answer {i}", "kind": "closed_qa" if i % 2 else "open_qa"} for i in range(30)]
MAPPING = {"instruction": "prompt", "context": "passage", "response": "output", "category": "kind"}


def params_for(tmp_path, **generate):
    overrides = {"generate_stories": {"columns": MAPPING, **generate},
                 "build_qa": {"train_examples": 20, "validation_examples": 3, "test_examples": 5, "max_context_words": 0}}
    return load_params(write_params(tmp_path, tiny_params(tasks={"instruct": overrides})), "instruct",
                       ("generate_stories", "build_qa"))


def write_rows(path):
    frame = pd.DataFrame(ROWS)
    {".jsonl": lambda: frame.to_json(path, orient="records", lines=True), ".csv": lambda: frame.to_csv(path, index=False),
     ".parquet": lambda: frame.to_parquet(path)}[path.suffix]()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_users_file_in_any_layout_becomes_seeded_disjoint_splits(tmp_path, suffix):
    external = tmp_path / "external"
    external.mkdir()
    write_rows(external / f"dolly{suffix}")
    params = params_for(tmp_path, source=str(external / f"dolly{suffix}"))
    files, stats = TASK.generate(params.generate_stories, external)
    assert stats["examples"] == 30 and stats["by_category"] == {"closed_qa": 15, "open_qa": 15}
    row = next(r for r in files["instructions.jsonl"] if r["instruction"] == "Question 4?")
    assert row == {"instruction": "Question 4?", "context": "Passage 4 says 4. It is long. Very long.",
                   "response": "Answer 4", "category": "open_qa", "group": "row000005"}
    write_files(tmp_path / "raw", files)
    built, _ = TASK.build(params.build_qa, tmp_path / "raw")
    sizes = {split: len(built[f"{split}.jsonl"]) for split in ("train", "validation", "test")}
    assert sizes == {"train": 20, "validation": 3, "test": 5}
    groups = [{r["group"] for r in built[f"{split}.jsonl"]} for split in sizes]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert built == TASK.build(params.build_qa, tmp_path / "raw")[0]
    question = next(r for r in built["test.jsonl"] + built["train.jsonl"] if r["answer"] == "Answer 3")["question"]
    assert question == "Question 3?"  # no context: the instruction alone


def test_bad_files_fail_in_one_line_naming_the_file(tmp_path):
    external = tmp_path / "external"
    external.mkdir()
    bad = external / "bad.jsonl"
    bad.write_text('{"instruction": "a", "response": "b"}\n{"instruction": "a", "respo\n')
    with pytest.raises(StorylabError, match=r"bad.jsonl:2: malformed JSON"):
        TASK.generate(params_for(tmp_path, source=str(bad)).generate_stories, external)
    write_rows(external / "dolly.csv")
    with pytest.raises(StorylabError, match=r"no column for response \(column 'answer'\).*generate_stories.columns"):
        TASK.generate(params_for(tmp_path, source=str(external / "dolly.csv"),
                                 columns={**MAPPING, "response": "answer"}).generate_stories, external)
    outside = tmp_path / "dolly.csv"
    write_rows(outside)
    with pytest.raises(StorylabError, match="must lie in .*external.*dvc add"):
        TASK.generate(params_for(tmp_path, source=str(outside)).generate_stories, external)
    with pytest.raises(StorylabError, match="file not found"):
        TASK.generate(params_for(tmp_path, source=str(external / "missing.parquet")).generate_stories, external)
    with pytest.raises(StorylabError, match=r"source.*\.txt.*use a"):
        params_for(tmp_path, source="data/external/notes.txt")


def test_truncation_cuts_the_context_at_a_sentence_and_keeps_the_instruction(tmp_path):
    context = "One two three. Four five six seven. Eight nine ten eleven twelve."
    assert cut_context(context, 8) == ("One two three. Four five six seven.", True)  # the last sentence end within 8
    assert cut_context(context, 6) == ("One two three.", True)
    assert cut_context(context, 0) == (context, False) and cut_context(context, 12) == (context, False)
    assert cut_context("no sentence end here at all", 3) == ("no sentence end", True)
    params = params_for(tmp_path)
    files, _ = TASK.generate(params.generate_stories, tmp_path)  # the generated open-book data (no source)
    write_files(tmp_path / "raw", files)
    short = params.build_qa.model_copy(update={"max_context_words": 30})
    built, stats = TASK.build(short, tmp_path / "raw")
    rows = {(r["instruction"], r["response"]): r for r in files["instructions.jsonl"]}
    for record in built["test.jsonl"]:
        context, instruction = record["question"].rsplit("\n\n", 1)
        source = next(r for (i, a), r in rows.items() if i == instruction and a == record["answer"])
        assert source["context"].startswith(context) and len(context.split()) <= 30 and context.endswith(".")
        assert record["context_cut"] and record["question"] == prompt(instruction, context)
    assert stats["test"]["contexts_cut"] == len(built["test.jsonl"])
