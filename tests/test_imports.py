"""The storylab package has no import cycles: every `import` of a storylab module, at module level or inside a
function, is an edge, and importing a module runs its packages' __init__ first (edges too, except a module's own
packages: a package's __init__ may import its submodules)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "storylab"


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = {module_name(path, package): path for path in package.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    # an edge into a module goes through its packages' __init__ too
    for name in graph:
        for target in list(graph[name]):
            package_name = target.rpartition(".")[0]
            while package_name in modules:
                if package_name != name and not name.startswith(package_name + "."):
                    graph[name].add(package_name)
                package_name = package_name.rpartition(".")[0]
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_storylab_has_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, " -> ".join(cycle)


def test_the_check_finds_a_cycle(tmp_path):
    package = tmp_path / "storylab"
    (package / "config").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config" / "__init__.py").write_text("from storylab.config.loader import load\n")
    (package / "config" / "loader.py").write_text("def load():\n    from storylab.tasks import get\n")
    (package / "config" / "schema.py").write_text("")
    (package / "tasks.py").write_text("from storylab.config.schema import Section\n")
    assert find_cycle(import_graph(package)) is not None
    (package / "config" / "__init__.py").write_text("")
    assert find_cycle(import_graph(package)) is None
