"""scripts/ablation.py on a CSV shaped like `dvc exp show --csv` (baseline rows, experiment rows, path-prefixed
metrics columns): the table keeps only the experiments, reads the right metrics file, and the README block is
replaced between its markers."""
import importlib.util

import pandas as pd
import pytest

from conftest import REPO
from storylab.errors import StorylabError

spec = importlib.util.spec_from_file_location("ablation", REPO / "scripts/ablation.py")
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)


def exp_show_frame() -> pd.DataFrame:
    rows = [{"Experiment": None, "rev": "workspace", "typ": "baseline", "stories": 5, "permute": True, "mix": True,
             "train": 1.0, "test": 0.6, "rl_test": 0.0}]
    for stories, permute, mix, train, test in [(5, True, True, 1.0, 0.5), (1, False, True, 1.0, 0.05),
                                               (1, False, False, 0.9, 0.0)]:
        rows.append({"Experiment": f"ablation-s{stories}-perm-{str(permute).lower()}-mix-{str(mix).lower()}",
                     "rev": "abc1234", "typ": "branch_commit", "stories": stories, "permute": permute, "mix": mix,
                     "train": train, "test": test, "rl_test": 0.99})
    rows.append({**rows[-1], "Experiment": "other-experiment", "test": 0.99})  # not part of the sweep
    frame = pd.DataFrame(rows)
    out = pd.DataFrame({"Experiment": frame.Experiment, "rev": frame.rev, "typ": frame.typ,
                        "generate_stories.stories_per_entity": frame.stories,
                        "generate_stories.permute_sentences": frame.permute, "train_sft.mix_qa": frame.mix,
                        "generate_stories.num_entities": 60, "train_sft.num_train_epochs": 100 // frame.stories})
    for name, values in (("metrics/eval_sft.json", frame), ("metrics/eval_rl.json", frame.assign(test=frame.rl_test))):
        out[f"{name}:train.all.exact_match.mean"] = values.train
        out[f"{name}:test.all.exact_match.mean"] = values.test
        out[f"{name}:test.all.exact_match.ci_low"] = values.test - 0.05
        out[f"{name}:test.all.exact_match.ci_high"] = values.test + 0.05
    return out


def test_table_has_one_sorted_row_per_experiment_from_the_chosen_metrics_file():
    table = ablation.ablation_table(exp_show_frame())
    assert table[["stories", "permute", "mix_qa"]].values.tolist() == [[1, "off", "off"], [1, "off", "on"],
                                                                       [5, "on", "on"]]
    assert table["test EM"].tolist() == [0.0, 0.05, 0.5]
    assert table["gap"].round(3).tolist() == [0.9, 0.95, 0.5]


def test_scale_line_names_the_shared_settings_and_the_varying_epochs():
    line = ablation.scale_line(exp_show_frame())
    assert "num_entities=60" in line and "num_train_epochs=" in line and "100" in line


def test_readme_block_is_replaced_between_markers_and_missing_markers_fail(tmp_path):
    from storylab.markdown_blocks import markers, replace_block

    start, end = markers("ablation")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{start}\nold\n{end}\noutro\n")
    replace_block(readme, "ablation", "new table\n")
    assert readme.read_text() == f"intro\n{start}\nnew table\n{end}\noutro\n"
    readme.write_text("no markers\n")
    with pytest.raises(StorylabError, match="markers"):
        replace_block(readme, "ablation", "x")


def test_the_current_column_names_are_read_first():
    """`make sweep` now writes story_qa's params and headline; the committed CSV has the pre-registry names."""
    old = exp_show_frame()
    renamed = old.rename(columns={"generate_stories.stories_per_entity": "tasks.story_qa.generate_stories.stories_per_entity",
                                  "generate_stories.permute_sentences": "tasks.story_qa.generate_stories.permute_sentences",
                                  "train_sft.mix_qa": "tasks.story_qa.train_sft.mix_qa",
                                  "metrics/eval_sft.json:train.all.exact_match.mean": "metrics/story_qa/headline.json:train",
                                  "metrics/eval_sft.json:test.all.exact_match.mean": "metrics/story_qa/headline.json:score",
                                  "metrics/eval_sft.json:test.all.exact_match.ci_low": "metrics/story_qa/headline.json:ci_low",
                                  "metrics/eval_sft.json:test.all.exact_match.ci_high": "metrics/story_qa/headline.json:ci_high"})
    assert ablation.ablation_table(renamed).equals(ablation.ablation_table(old))
