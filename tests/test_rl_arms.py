"""The arms of word_math's RL comparison beside GRPO: expert iteration keeps only distinct right answers that ended
on the end token and reads no worked solution; the GRPO pool screen streams the problems the current policy solves sometimes; the
upper bound trains on the worked pool. Sampling is replaced by fixed completions, so each rule is checked exactly."""
import importlib.util
from types import SimpleNamespace

import pytest

from conftest import REPO, tiny_params
from storylab.config.loader import task_sections
from storylab.errors import StorylabError
from storylab.tasks import get_task


@pytest.fixture(scope="module")
def train_rl():
    spec = importlib.util.spec_from_file_location("train_rl_script", REPO / "scripts/train_rl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def params():
    data = tiny_params()
    return SimpleNamespace(**task_sections(data, "word_math", "tiny", check_models=False))


def problem(i: int, answer: int, worked: bool = False) -> dict:
    return {"id": f"p{i}", "question": f"Mia has {answer} apples. How many apples does Mia have now?",
            "answer": (f"{answer}+0={answer}\n" if worked else "") + f"#### {answer}", "key": str(i), "num_ops": 2}


def fixed_samples(groups: dict[str, list[tuple[str, bool]]]):
    """A stand-in for sample_groups: per problem id, (text, stopped) completions scored by the task's check."""
    task = get_task("word_math")

    def sample_groups(task_, model, tokenizer, params, records, samples, seed):
        return [[{"text": text, "stopped": stopped, "tokens": len(text), "correct": task.check(text, r["answer"], r)}
                 for text, stopped in groups[r["id"]][:samples]] for r in records]
    return sample_groups


def test_rft_keeps_distinct_right_answers_that_stopped_and_reads_no_worked_solution(train_rl, params, tmp_path,
                                                                                  monkeypatch):
    task = get_task("word_math")
    from storylab.io import write_jsonl

    demos = [problem(0, 5, worked=True)]
    write_jsonl(tmp_path / "train.jsonl", demos)
    write_jsonl(tmp_path / "rl_pool.jsonl", [problem(1, 7), problem(2, 9)])
    # The worked pool holds a marker no sample has: if RFT read it, the marker would reach the SFT records.
    write_jsonl(tmp_path / "rl_pool_worked.jsonl", [{**problem(i, a), "answer": "WORKED"} for i, a in ((1, 7), (2, 9))])
    monkeypatch.setattr(train_rl, "sample_groups", fixed_samples({
        "p1": [("3+4=7\n#### 7", True), ("3+4=7\n#### 7", True), ("#### 7", True), ("#### 8", True)],
        "p2": [("#### 9", False), ("#### 2", True), ("#### 2", True), ("#### 1", True)]}))
    monkeypatch.setattr(train_rl, "load_pretrained", lambda *a, **k: (None, None))
    captured = {}

    def continue_sft(task_, params_, args, records, steps, model, tokenizer, summary):
        captured.update(records=records, steps=steps, summary=summary)
        return None, None, summary
    monkeypatch.setattr(train_rl, "continue_sft", continue_sft)
    rft = params.train_rl.rft.model_copy(update={"problems": 2, "samples": 4})
    params.train_rl = params.train_rl.model_copy(update={"rft": rft})
    train_rl.train_rft(task, params, SimpleNamespace(data_dir=tmp_path, sft_dir="unused"))

    answers = [(r["id"], r["answer"]) for r in captured["records"]]
    # the demonstration, then the two distinct right answers to p1; p2's right answer was cut (not stopped): dropped
    assert answers == [("p0", "5+0=5\n#### 5"), ("p1", "3+4=7\n#### 7"), ("p1", "#### 7")]
    assert not any("WORKED" in answer for _, answer in answers)
    assert captured["steps"] == rft.max_steps
    assert captured["summary"] == {"rollouts": 8, "rft_problems": 2, "rft_solved": 0.5, "rft_kept": 2,
                                   "generated_tokens": 12 + 12 + 6 + 6 + 6 + 6 + 6 + 6}  # each one's length here


class Policy:
    """A stand-in model: its training flag is what the screen must leave as it found it."""
    training = True

    def train(self, mode=True):
        self.training = mode


def test_pool_screen_streams_problems_the_current_policy_solves_sometimes(train_rl, params, monkeypatch):
    task = get_task("word_math")
    grpo = params.train_rl.grpo.model_copy(update={"filter_samples": 2, "filter_problems": 3, "refresh_every": 2})
    # one prompt per step: a screened slice serves 2 rows
    params.train_rl = params.train_rl.model_copy(update={"grpo": grpo,
                                                         "per_device_train_batch_size": grpo.num_generations})
    answers = {  # per screening pass over the pool, what the policy then answers
        "p1": [[("#### 1", True), ("#### 1", True)], [("#### 0", True), ("#### 1", True)]],
        "p2": [[("#### 2", True), ("#### 0", True)], [("#### 2", True), ("#### 2", True)]],
        "p3": [[("#### 0", True), ("#### 0", True)], [("#### 0", True), ("#### 0", True)]],
        "p4": [[("#### 4", True), ("#### 0", True)], [("#### 0", True), ("#### 0", True)]]}
    calls = []

    def sample_groups(task_, model, tokenizer, params_, records, samples, seed):
        calls.append(([r["id"] for r in records], seed, model.training))
        model.train(False)  # generation switches the model to eval mode
        return fixed_samples({r["id"]: answers[r["id"]][len(calls) > 1] for r in records})(
            task_, model, tokenizer, params_, records, samples, seed)
    monkeypatch.setattr(train_rl, "sample_groups", sample_groups)
    records = [problem(i, i) for i in range(1, 5)]
    screen = train_rl.PoolScreen(task, None, params, records, [{"row": r["id"]} for r in records])
    screen.model = Policy()
    rows = screen.rows()
    # slices of 3, cycling over the pool, each screened (by the policy as it is then) when the last one's window of
    # steps is used up; within a window the kept problems are drawn in turn
    assert [next(rows)["row"] for _ in range(5)] == ["p2", "p2", "p1", "p1", "p1"]
    assert [c[0] for c in calls] == [["p1", "p2", "p3"], ["p4", "p1", "p2"], ["p3", "p4", "p1"]]
    assert [c[1] for c in calls] == [params.train_rl.seed + start for start in (0, 3, 6)]
    assert screen.model.training and all(c[2] for c in calls)
    assert screen.summary() == {"pool_screened": 9, "pool_kept": 3, "pool_solved_never": pytest.approx(4 / 9),
                                "pool_solved_always": pytest.approx(2 / 9), "screen_generated_tokens": 9 * 2 * 6}


def test_pool_screen_stops_when_no_problem_teaches_anything(train_rl, params, monkeypatch):
    grpo = params.train_rl.grpo.model_copy(update={"filter_samples": 2, "filter_problems": 2})
    params.train_rl = params.train_rl.model_copy(update={"grpo": grpo})
    monkeypatch.setattr(train_rl, "sample_groups", fixed_samples({
        "p1": [("#### 1", True), ("#### 1", True)], "p2": [("#### 0", True), ("#### 0", True)],
        "p3": [("#### 0", True), ("#### 0", True)]}))
    records = [problem(i, i) for i in range(1, 4)]
    screen = train_rl.PoolScreen(get_task("word_math"), None, params, records, records)
    screen.model = Policy()
    with pytest.raises(StorylabError, match="never or always"):
        next(screen.rows())


def test_the_bound_trains_bound_steps_on_the_demonstrations_and_the_worked_pool(train_rl, params, tmp_path, monkeypatch):
    from storylab.io import write_jsonl

    write_jsonl(tmp_path / "train.jsonl", [problem(0, 5, worked=True)])
    write_jsonl(tmp_path / "rl_pool.jsonl", [problem(1, 7)])
    write_jsonl(tmp_path / "rl_pool_worked.jsonl", [problem(1, 7, worked=True)])
    seen = {}
    monkeypatch.setattr(train_rl, "continue_sft", lambda task, params, args, records, steps: seen.update(r=records, steps=steps))
    params.train_rl = params.train_rl.model_copy(update={"control_steps": 3, "bound_steps": 5})
    train_rl.sft_on_worked_pool(get_task("word_math"), params, SimpleNamespace(data_dir=tmp_path))
    assert [r["answer"] for r in seen["r"]] == ["5+0=5\n#### 5", "7+0=7\n#### 7"]
    assert seen["steps"] == 5  # its own length (GRPO's compute in its tokens per step), not the control's


def test_each_run_has_one_method(train_rl, params):
    assert {run: train_rl.method_of(run, params) for run in ("rl", "control", "rft", "bound", "base")} == \
        {"rl": params.train_rl.method, "control": "sft-continued", "rft": "rft", "bound": "sft-bound", "base": "base"}
    assert all(callable(train_rl.METHODS[train_rl.method_of(run, params)]) for run in ("control", "rft", "bound"))


def test_the_committed_arms_spend_grpos_compute():
    """Issue 27's arms are compared at equal compute: each arm's generated + trained tokens (its own count, in
    metrics/word_math/train_<run>.json) within 10% of GRPO's. A change to GRPO's recipe that is not matched in
    control_steps, bound_steps and rft fails here."""
    from storylab.io import read_json

    spent = {run: read_json(REPO / f"metrics/word_math/train_{run}.json") for run in ("rl", "control", "rft", "bound")}
    tokens = {run: found.get("generated_tokens", 0) + found["trained_tokens"] for run, found in spent.items()}
    assert all(abs(tokens[run] / tokens["rl"] - 1) <= 0.10 for run in ("control", "rft", "bound")), tokens


def test_the_arms_tables_of_the_results_doc_are_the_committed_metrics():
    """docs/results.md's word_math arms tables are what `scripts/results.py --arms word_math` writes (make readme)."""
    import re
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "scripts/results.py", "--arms", "word_math"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    text = (REPO / "docs/results.md").read_text(encoding="utf-8")
    block = re.search("<!-- arms-word_math:start -->\n(.*?)\n<!-- arms-word_math:end -->", text, re.S).group(1)
    assert block.startswith("| model | test pass@1") and "| rl − control |" in block and block.strip() == out.strip()
