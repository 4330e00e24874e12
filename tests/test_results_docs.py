"""docs/results.md is generated tables and short readings: each task's report block is what `scripts/results.py
--reports` writes from the committed report, and no score is written by hand outside the generated blocks (it
would go stale at the next run)."""
import re
import subprocess
import sys

from conftest import REPO
from storylab.tasks.registry import TASKS

DOC = REPO / "docs/results.md"
BLOCK = re.compile(r"<!-- ([\w-]+):start -->\n(.*?)\n?<!-- \1:end -->", re.S)
# a score as the reports print it: 0.955, +0.047, [0.940, 0.976]
SCORE = re.compile(r"(?<![\w.])[+−-]?[01]\.\d{3}(?![\w.])")


def test_every_task_has_its_report_block_and_it_is_the_committed_report():
    out = subprocess.run([sys.executable, "scripts/results.py", "--reports"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    blocks = dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))
    for task in TASKS:
        block = blocks.get(f"report-{task}", "")
        assert block.startswith("**Held-out questions"), f"docs/results.md: no report-{task} block; make readme"
        assert block.strip() in out, f"docs/results.md: report-{task} is not the committed report; make readme"


def test_no_score_is_written_by_hand_outside_the_generated_blocks():
    text = BLOCK.sub("", DOC.read_text(encoding="utf-8"))
    found = SCORE.findall(text)
    assert not found, f"docs/results.md: hand-written scores {found[:5]}; put them in a generated block or the notebook"
