"""dvc.yaml tells the truth: each stage declares the package modules its script imports and exactly the
params sections the script loads, and every path the script gets comes through its cmd."""
import ast
import re

import pytest
import yaml

from conftest import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def stage_bodies():
    for name, stage in STAGES.items():
        if "foreach" in stage:
            for item in stage["foreach"]:
                body = yaml.safe_load(yaml.safe_dump(stage["do"]).replace("${item}", str(item)))
                yield f"{name}@{item}", body
        else:
            yield name, stage


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


@pytest.mark.parametrize("name,stage", list(stage_bodies()))
def test_stage_declares_script_modules_and_params(name, stage):
    script = re.search(r"python (scripts/\w+\.py)", stage["cmd"]).group(1)
    deps = set(stage["deps"])
    assert script in deps
    missing = package_closure(REPO / script) - deps
    assert not missing, f"{name}: dvc.yaml deps lack {missing}"
    source = (REPO / script).read_text()
    loaded = set(re.findall(r'load_section\("(\w+)"', source))
    assert loaded == set(stage.get("params", [])), f"{name}: script loads {loaded}"
    if "train_rl" in loaded:
        assert "storylab/scoring.py" in deps  # config validates reward names against the registry


def test_every_declared_path_comes_through_cmd():
    """Each out is named in cmd, or lies directly in a directory that cmd names (report's --out_dir)."""
    for name, stage in stage_bodies():
        args = stage["cmd"].split()
        for entry in stage.get("outs", []) + stage.get("metrics", []) + stage.get("deps", []):
            path = entry if isinstance(entry, str) else next(iter(entry))
            assert path in args or path.rsplit("/", 1)[0] in args or path.startswith(("scripts/", "storylab/")), \
                f"{name}: {path} is not passed through cmd"
