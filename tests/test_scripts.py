"""Every stage script has the same shape: a docstring with the exact command, storylab imported before anything
that loads torch (it pins the CPU math libraries, see storylab/__init__.py), main() that reads its params once
through the shared preamble, and the __main__ guard. Scripts never import each other."""
import ast
from pathlib import Path

import pytest

from conftest import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.py"))
# No torch, no params of their own: `dvc exp show --csv` or the reports in, tables out; the demo runs the stages in a
# workspace of its own.
TABLE_SCRIPTS = {"ablation", "seeds", "results", "demo"}
TORCH_SCRIPTS = [p for p in SCRIPTS if p.stem not in TABLE_SCRIPTS]
PARAMLESS = {"import_model", "gpu_check"}  # a GGUF file in, a model dir out / the check's own params: no stage params


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_shape(path: Path):
    tree = ast.parse(path.read_text())
    doc = ast.get_docstring(tree)
    assert doc and f"python scripts/{path.name}" in doc
    assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and "__main__" in ast.unparse(guard.test) and "run(main" in ast.unparse(guard)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("scripts"), f"{path.name} imports another script"


@pytest.mark.parametrize("path", TORCH_SCRIPTS, ids=lambda p: p.stem)
def test_storylab_is_the_first_import_and_params_are_read_once(path: Path):
    tree = ast.parse(path.read_text())
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               and getattr(node, "module", None) != "__future__"]
    assert isinstance(imports[0], ast.Import) and imports[0].names[0].name == "storylab"
    assert path.read_text().count("stage_params(args") == (0 if path.stem in PARAMLESS else 1)
