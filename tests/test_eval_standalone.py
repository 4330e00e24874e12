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
    assert "Exact Match" in result.stdout and "Acc@ROUGE-L>=0.5" in result.stdout
    metrics = json.loads(out.read_text())
    assert metrics["metric_version"] >= 1
    assert metrics["all"]["exact_match"]["mean"] == 0.25
    assert metrics["all"]["relaxed_match"]["mean"] == 0.5  # "born in Eastwold" contains the gold
    assert metrics["all"]["acc_at_rouge_l"]["mean"] == 0.75


def test_standalone_rejects_a_malformed_line(tmp_path):
    pred = tmp_path / "preds.jsonl"
    pred.write_text('{"gold": "a", "prediction": "a"}\nnot json\n')
    result = run_script("eval_accuracy_plus.py", "--pred_file", str(pred), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {pred}:2: malformed JSON (Expecting value); fix or delete that line"
