"""dvc.yaml, variants/dvc.yaml and pretrained/dvc.yaml tell the truth: each stage declares the package code its script and its task
import (and no other task's folder), its task's registry line, exactly the params sections the script reads, and
every path the script gets comes through its cmd. The stages are read through DVC itself, so foreach / matrix
items and ${...} are resolved as `dvc repro` sees them."""
import ast
import re
from pathlib import Path

import pytest
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from conftest import REPO
from storylab.config.loader import read_yaml
from storylab.config.schema import SHARED_SECTIONS
from storylab.tasks import registered

with Repo(str(REPO)) as _repo:
    STAGES = {stage.addressing: {"cmd": stage.cmd, "deps": [str(dep.def_path) for dep in stage.deps
                                                            if not isinstance(dep, ParamsDependency)],
                                 "params": {str(params.def_path): list(params.params) for params in stage.params},
                                 "outs": [str(out.def_path) for out in stage.outs]}
              for stage in _repo.index.stages}


def module_files(name: str) -> set[str]:
    """storylab.a.b -> its file and the __init__.py of every package on the way."""
    parts = name.split(".")
    files = {f"{'/'.join(parts[:i])}/__init__.py" for i in range(1, len(parts))}
    path = "/".join(parts)
    files.add(f"{path}/__init__.py" if (REPO / path).is_dir() else f"{path}.py")
    return files


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storylab"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if (REPO / node.module.replace(".", "/") / f"{a.name}.py").is_file())
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("storylab"))
    return found


def closure(start: list[Path]) -> set[str]:
    """Package files the start files import, anywhere in them, transitively (the task folder is loaded by name)."""
    todo, seen = [str(path.relative_to(REPO)) for path in start], set()
    while todo:
        file = todo.pop()
        if file not in seen and (REPO / file).is_file():
            seen.add(file)
            todo.extend(f for module in imports(REPO / file) for f in module_files(module))
    return {file for file in seen if file.startswith("storylab/")}


def task_of(stage: dict) -> str:
    return re.search(r"--task (\S+)", stage["cmd"]).group(1)


# Shared-core modules that some task folder imports (the biography world of story_qa and instruct): a foreach stage
# cannot list a dep for some tasks only, so every task stage lists them, and editing one reruns every task.
TASK_SHARED = {file for file in closure(sorted((REPO / "storylab/tasks").rglob("*.py")))
               if not file.startswith("storylab/tasks/")} - closure([REPO / "storylab/tasks/base.py"])

VALIDATE = "validate_params"
IMPORT = "pretrained/dvc.yaml:import_model"
TASK_STAGES = [name for name in STAGES if name not in (VALIDATE, IMPORT)]


def test_the_validation_stage_reads_every_param_and_declares_what_it_imports():
    """It imports every task (their params schemas), so it may depend on the whole storylab/tasks folder."""
    stage = STAGES[VALIDATE]
    assert stage["cmd"] == "python -m storylab.config params.yaml"
    assert stage["params"]["params.yaml"] == []  # the whole file
    needed = closure([REPO / "storylab/config/__main__.py", *sorted((REPO / "storylab/tasks").rglob("*.py"))])
    assert {f for f in needed if not any(f == d or f.startswith(d + "/") for d in stage["deps"])} == set()
    assert list(STAGES)[0] == VALIDATE  # first in dvc.yaml, so it tends to run before the rest


def test_the_import_stage_declares_what_it_imports():
    """It reads no params and no task: its deps are the code it imports and the lock that pins the GGUF package."""
    stage = STAGES[IMPORT]
    needed = closure([REPO / "scripts/import_model.py"])
    deps = set(stage["deps"])
    assert {f for f in needed if not any(f == d or f.startswith(d + "/") for d in deps)} == set()
    assert not [d for d in deps if d.startswith("storylab/") and not any(f == d or f.startswith(d + "/") for f in needed)]
    assert "requirements.lock" in deps and stage["params"] == {}


def test_every_pipeline_is_read():
    for task in registered():
        assert f"train_sft@{task}" in STAGES and f"eval_accuracy_plus@{task}-sft" in STAGES
    assert "variants/dvc.yaml:train_sft@sft-overfit" in STAGES
    assert "variants/dvc.yaml:eval_accuracy_plus@math-plain-sftrl-chat-eval" in STAGES
    assert "pretrained/dvc.yaml:train_sft@qa-naive-sft" in STAGES
    assert "pretrained/dvc.yaml:eval_accuracy_plus@math-plain-sft-answer-chat-eval" in STAGES


@pytest.mark.parametrize("name", TASK_STAGES)
def test_stage_declares_its_code_and_only_its_task(name):
    stage, task = STAGES[name], task_of(STAGES[name])
    script = re.search(r"(scripts/\w+\.py)", stage["cmd"]).group(1)
    deps = set(stage["deps"])
    assert script in deps
    folder = f"storylab/tasks/{task}"
    launcher = [REPO / (m.replace(".", "/") + ".py") for m in re.findall(r"python -m (storylab\.\w+)", stage["cmd"])]
    needed = closure([REPO / script, *launcher, *sorted((REPO / folder).glob("*.py"))]) - {"storylab/tasks/registry.py"}
    covered = {file for file in needed if any(file == dep or file.startswith(dep + "/") for dep in deps)}
    assert needed == covered, f"{name}: dvc.yaml deps lack {sorted(needed - covered)}"
    package_deps = {dep for dep in deps if dep.startswith("storylab/")}
    unused = {dep for dep in package_deps - TASK_SHARED if not any(f == dep or f.startswith(dep + "/") for f in needed)}
    assert not unused, f"{name}: dvc.yaml lists {unused}, which neither the script nor the task imports"
    assert not {dep for dep in package_deps if dep.startswith("storylab/tasks/") and dep.count("/") == 2
                and (REPO / dep).is_dir() and dep != folder}, f"{name}: depends on another task's folder"
    assert stage["params"]["storylab/tasks/registry.py"] == [f"TASKS.{task}"]


def dotted_in(tree: dict, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


OVERLAY = "configs/pretrained.yaml"


@pytest.mark.parametrize("name", TASK_STAGES)
def test_stage_declares_exactly_the_params_its_script_reads(name):
    """From params.yaml, the sections the script reads; from the overlay a pretrained stage merges over it
    (--overlay), those of them the overlay sets. The recipe keys come from the file that holds the recipes."""
    stage, task = STAGES[name], task_of(STAGES[name])
    script = re.search(r"(scripts/\w+\.py)", stage["cmd"]).group(1)
    call = re.search(r"stage_params\(args, ([^)]*)\)", (REPO / script).read_text()).group(1)
    sections = re.findall(r'"(\w+)"', call)
    expected = {f"tasks.{task}.{section}" for section in sections}
    expected |= {section for section in sections if section in SHARED_SECTIONS}
    overlay = f"--overlay {OVERLAY}" in stage["cmd"]
    recipes_file = OVERLAY if overlay else "params.yaml"
    variant = {key for key in stage["params"].get(recipes_file, []) if key.startswith("variants.")}
    assert set(stage["params"]["params.yaml"]) - variant == expected, f"{name}: script reads {sorted(expected)}"
    if overlay:
        assert not {key for key in stage["params"]["params.yaml"] if key.startswith("variants.")}
        present = {key for key in expected if dotted_in(read_yaml(REPO / OVERLAY), key)}
        assert set(stage["params"][OVERLAY]) - variant == present, f"{name}: {OVERLAY} sets {sorted(present)}"
    match = re.search(r"--variant (\S+)", stage["cmd"])
    paired = "--paired" in stage["cmd"]  # the variants and pretrained reports take their scale's pairs
    assert bool(variant) == bool(match or paired)
    data = re.search(r"data/(?:variants|pretrained)/([\w-]+)/", stage["cmd"])
    scale = data.group(1) if data else task
    if match:  # the recipe: the stage depends on its own entries of the variants section, not on the others'
        kind, recipe = match.group(1).split(".")
        assert all(key.startswith((f"variants.scale.{scale}.", f"variants.{kind}.{recipe}")) for key in variant)
    elif paired:  # the report's pairs
        assert variant == {f"variants.scale.{scale}.paired"}


@pytest.mark.parametrize("name", list(STAGES))
def test_every_declared_path_comes_through_cmd(name):
    """Each out and data dep is named in cmd, or lies directly in a directory that cmd names (--out_dir), or is
    the model the declared params name."""
    stage = STAGES[name]
    args = stage["cmd"].split()
    # The model a pretrained stage starts from comes through the overlay it declares (model.name_or_path).
    model = read_yaml(REPO / OVERLAY)["model"]["name_or_path"] if f"--overlay {OVERLAY}" in stage["cmd"] else None
    for path in stage["outs"] + stage["deps"]:
        if path.startswith(("scripts/", "storylab/")) or path in ("requirements.lock", model):  # code, environment
            continue
        assert path in args or path.rsplit("/", 1)[0] in args, f"{name}: {path} is not passed through cmd"


def test_bytecode_in_a_directory_dep_is_ignored():
    """make lets Python write __pycache__ beside the package code (compiled on first import); if DVC hashed it, a
    fresh clone (no bytecode yet) would see every directory dep changed and rerun every stage."""
    directories = {dep for stage in STAGES.values() for dep in stage["deps"] if (REPO / dep).is_dir()}
    assert "storylab/config" in directories
    with Repo(str(REPO)) as repo:
        kept = [d for d in sorted(directories) if not repo.dvcignore.is_ignored_dir(str(REPO / d / "__pycache__"))]
    assert not kept, f".dvcignore must ignore __pycache__ in {kept}"
