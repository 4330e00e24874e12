"""dvc.yaml and variants/dvc.yaml tell the truth: each stage declares the package modules its script imports
and exactly the params sections the script loads, and every path the script gets comes through its cmd.
The stages are read through DVC itself, so foreach items and ${...} are resolved as `dvc repro` sees them."""
import ast
import re

import pytest
from dvc.repo import Repo

from conftest import REPO

with Repo(str(REPO)) as _repo:
    STAGES = {stage.addressing: {"cmd": stage.cmd, "deps": [str(dep.def_path) for dep in stage.deps],
                                 "params": [key for params in stage.params for key in params.params],
                                 "outs": [str(out.def_path) for out in stage.outs]}
              for stage in _repo.index.stages}


def imported_modules(path, top_level_only):
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storylab"):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("storylab."))
    return found


def package_closure(script):
    """Modules the script imports (anywhere), and what those import at module level, transitively.
    A module's function-level import (config's lazy import of scoring for the train_rl section) is
    declared by the stage that calls that function."""
    todo, seen = list(imported_modules(script, top_level_only=False)), set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imported_modules(REPO / "storylab" / f"{module}.py", top_level_only=True))
    return {f"storylab/{m}.py" for m in seen}


def test_both_pipelines_are_read():
    assert "train_sft" in STAGES and "variants/dvc.yaml:train_sft@sft-overfit" in STAGES
    assert "variants/dvc.yaml:eval_accuracy_plus@plain-sftrl-chat-eval" in STAGES


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_declares_script_modules_and_params(name):
    stage = STAGES[name]
    script = re.search(r"python (scripts/\w+\.py)", stage["cmd"]).group(1)
    deps = set(stage["deps"])
    assert script in deps
    closure = package_closure(REPO / script)
    assert not closure - deps, f"{name}: dvc.yaml deps lack {closure - deps}"
    extra = {dep for dep in deps if dep.startswith("storylab/")} - closure
    assert not extra, f"{name}: dvc.yaml lists {extra}, which the script never imports (needless reruns)"
    source = (REPO / script).read_text()
    loaded = set(re.findall(r'load_section\("(\w+)"', source))
    if "--variant" in stage["cmd"]:
        # The recipe: the stage depends on its own entries of the variants section, not on the others'.
        loaded.add("variants")
        kind, name_in_section = re.search(r"--variant (\S+)", stage["cmd"]).group(1).partition(".")[::2]
        variant_keys = [key for key in stage["params"] if key.startswith("variants.")]
        assert all(key.startswith(("variants.scale.", f"variants.{kind}.{name_in_section}")) for key in variant_keys)
        if name_in_section:
            assert f"variants.{kind}.{name_in_section}" in stage["params"]
    assert {key.split(".")[0] for key in stage["params"]} == loaded, f"{name}: script loads {loaded}"
    if "train_rl" in loaded:
        assert "storylab/scoring.py" in deps  # config validates reward names against the registry


@pytest.mark.parametrize("name", list(STAGES))
def test_every_declared_path_comes_through_cmd(name):
    """Each out and data dep is named in cmd, or lies directly in a directory that cmd names (--out_dir)."""
    stage = STAGES[name]
    args = stage["cmd"].split()
    for path in stage["outs"] + stage["deps"]:
        if path.startswith(("scripts/", "storylab/", "params.yaml")):
            continue
        assert path in args or path.rsplit("/", 1)[0] in args, f"{name}: {path} is not passed through cmd"
