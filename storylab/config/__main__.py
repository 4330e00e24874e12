"""python -m storylab.config [params.yaml]: validate every section of the file, print one line."""
import sys

from storylab.config.loader import validate_all
from storylab.errors import run


def main() -> str:
    path = sys.argv[1] if len(sys.argv) > 1 else "params.yaml"
    data = validate_all(path)
    return f"{path}: ok ({len(data['tasks'])} tasks: {', '.join(data['tasks'])})"


if __name__ == "__main__":
    run(main, "storylab.config")
