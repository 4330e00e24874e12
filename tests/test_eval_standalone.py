"""eval_accuracy_plus.py on any JSONL of {gold, prediction}, as the seed script was used."""
import json

from conftest import run_script


def test_standalone_prints_table_and_writes_metrics(tmp_path):
    pred = tmp_path / "preds.jsonl"
    rows = [{"gold": "Castle Dunmere", "prediction": "Castle Dunmere"},
            {"gold": "Eastwold", "prediction": "born in Eastwold"},
            {"gold": "rebuilt the great bridge", "prediction": "rebuilt the bridge"},
            {"gold": "Queen Maud of Erlen", "prediction": "King Aldwin the Bold"}]
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m.json"
    result = run_script("eval_accuracy_plus.py", "--pred_file", str(pred), "--short_thresh", "15",
                        "--rouge_thresh", "0.5", "--out", str(out))
    assert "exact_match" in result.stdout and "acc_at_rouge_l" in result.stdout
    metrics = json.loads(out.read_text())
    assert metrics["metric_version"] >= 1 and metrics["task"] == "story_qa"
    assert metrics["score"] == {"short_thresh": 15, "rouge_thresh": 0.5}
    assert metrics["all"]["exact_match"]["mean"] == 0.25
    assert metrics["all"]["relaxed_match"]["mean"] == 0.5  # "born in Eastwold" contains the gold
    assert metrics["all"]["acc_at_rouge_l"]["mean"] == 0.75


def test_standalone_scores_word_problems_with_the_gsm8k_check(tmp_path):
    pred = tmp_path / "preds.jsonl"
    rows = [{"gold": "3+4=7\n#### 7", "prediction": "3+4=7\n#### 7"},
            {"gold": "#### 12", "prediction": "so the answer is 12.00"},    # no marker: the last number counts
            {"gold": "#### 1,200", "prediction": "#### $1200"},
            {"gold": "#### 5", "prediction": "#### 6"}]
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m.json"
    run_script("eval_accuracy_plus.py", "--task", "word_math", "--pred_file", str(pred), "--out", str(out))
    metrics = json.loads(out.read_text())
    assert metrics["task"] == "word_math"
    assert metrics["all"]["correct"]["mean"] == 0.75 and metrics["all"]["no_marker"]["mean"] == 0.25


def test_standalone_rejects_a_malformed_line(tmp_path):
    pred = tmp_path / "preds.jsonl"
    pred.write_text('{"gold": "a", "prediction": "a"}\nnot json\n')
    result = run_script("eval_accuracy_plus.py", "--pred_file", str(pred), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {pred}:2: malformed JSON (Expecting value); fix or delete that line"
