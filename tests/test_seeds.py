"""Results over data seeds: the across-seed statistic, scripts/seeds.py reading each experiment's report from its
commit (and keeping the rows of seeds it does not list), the README's claim, and the committed blocks."""
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from scipy import stats

from conftest import REPO
from storylab.metrics.stats import across_seeds
from storylab.reporting import seeds


def test_across_seeds_is_a_t_interval_with_range_and_sign_count():
    values = [0.064, 0.064, 0.046, -0.010, 0.020, float("nan")]
    found = across_seeds(values)
    kept = values[:5]
    low, high = stats.t.interval(0.95, 4, loc=sum(kept) / 5, scale=stats.sem(kept))
    assert found == pytest.approx({"mean": sum(kept) / 5, "ci_low": low, "ci_high": high, "n": 5, "min": -0.010,
                                   "max": 0.064, "above_zero": 4})
    assert across_seeds([0.0, 0.0, 0.0])["ci_low"] == 0.0  # no spread: the interval is the mean
    assert across_seeds([0.5]) is None


def frame(rl_minus_control: list[float], rft_minus_sft: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"seed": range(len(rl_minus_control)), "rl_minus_control": rl_minus_control,
                         "rft_minus_sft": rft_minus_sft})


def test_the_claim_says_whether_grpos_gain_over_the_control_holds_and_names_the_method_that_does():
    held = seeds.claim(frame([0.06, 0.05, 0.07, 0.04, 0.06, 0.05], [0.1] * 6), "word_math")
    assert "GRPO's gain over the control holds across seeds" in held and "its gain holds" in held
    noise = seeds.claim(frame([0.06, 0.01, -0.02, 0.03, -0.01, 0.02], [0.1, 0.08, 0.07, 0.09, 0.1, 0.06]), "word_math")
    assert "does **not** hold across seeds" in noise and "Expert iteration (RFT) − SFT +0.083" in noise
    assert "above 0 on 4" in noise and "over 6 seeds" in noise


def git(*args, cwd):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_seeds_py_reads_every_arm_and_difference_from_the_experiments_commit_and_keeps_older_rows(tmp_path):
    numbers = {"metric_version": 1, "sft": {"test": 0.70, "ci_low": 0.66, "ci_high": 0.74}, "rl": {"test": 0.75},
               "control": {"test": 0.71}, "rl_minus_control": {"difference": 0.04, "ci_low": 0.01, "ci_high": 0.07},
               "rl_minus_control@test_harder": {"difference": 0.0, "ci_low": -0.01, "ci_high": 0.01}}
    (tmp_path / "metrics/word_math/report").mkdir(parents=True)
    (tmp_path / "metrics/word_math/report/numbers.json").write_text(json.dumps(numbers))
    (tmp_path / "metrics/word_math/train_rl.json").write_text(json.dumps({"pool_kept": 600, "mean_reward": 0.6}))
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-qm", "exp", cwd=tmp_path)
    rev = git("rev-parse", "HEAD", cwd=tmp_path)
    pd.DataFrame([{"Experiment": "", "rev": "workspace", "typ": "baseline"},
                  {"Experiment": "seeds-word_math-default-s3", "rev": rev, "typ": "branch_commit",
                   "metrics/word_math/headline.json:train": 0.9}]).to_csv(tmp_path / "exps.csv", index=False)
    out = tmp_path / "out/word_math/seeds.csv"
    out.parent.mkdir(parents=True)
    pd.DataFrame([{"setting": "default", "seed": 1, "sft": 0.74, "rl_minus_control": 0.064},
                  {"setting": "default", "seed": 3, "sft": 0.1}]).to_csv(out, index=False)
    subprocess.run([sys.executable, str(REPO / "scripts/seeds.py"), "--csv", "exps.csv", "--metrics_dir", "out"],
                   cwd=tmp_path, check=True, capture_output=True, text=True)
    table = pd.read_csv(out).set_index("seed")
    assert list(table.index) == [1, 3]
    assert table.loc[1, "sft"] == 0.74 and table.loc[1, "rl_minus_control"] == 0.064  # kept: not in this csv
    assert table.loc[3, ["sft", "rl", "control", "rl_minus_control", "rl_minus_control_ci_low", "sft_train",
                         "rl_pool_kept", "rl_mean_reward"]].tolist() == [0.70, 0.75, 0.71, 0.04, 0.01, 0.9, 600, 0.6]
    assert not any("@" in column for column in table.columns)  # the headline split only


@pytest.mark.parametrize("doc,block", [("README.md", "seeds-word_math"), ("docs/results.md", "seeds-word_math-runs")])
def test_the_seeds_blocks_are_the_committed_metrics(doc, block):
    out = subprocess.run([sys.executable, "scripts/results.py", "--seeds", "word_math"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    text = (REPO / doc).read_text(encoding="utf-8")
    found = re.search(f"<!-- {block}:start -->\n(.*?)\n<!-- {block}:end -->", text, re.S).group(1)
    assert found.strip() and found.strip() in out
