"""`python -m storylab.launch CONFIG SCRIPT [ARGS...]`: `accelerate launch --config_file CONFIG SCRIPT ARGS` with the
stage's own exit code. accelerate turns any failure of the script into exit code 1 (and, without --quiet, a
traceback of its own), so bad input would no longer read as bad input (exit 2) to DVC, make and CI. The script's
errors.run writes its code to the file named by errors.EXIT_FILE; this reads it back."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from storylab.errors import EXIT_FILE


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("error: usage: python -m storylab.launch CONFIG.yaml SCRIPT.py [ARGS...]", file=sys.stderr)
        return 2
    config, *command = argv
    if not Path(config).is_file():
        print(f"error: {config}: accelerate config not found; see configs/accelerate/ (params.yaml: launch.config)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        exit_file = Path(folder, "exit")
        env = {**os.environ, EXIT_FILE: str(exit_file)}
        code = subprocess.call([sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--config_file", config,
                                *command], env=env)
        written = exit_file.read_text().split() if exit_file.is_file() else []
    return int(written[0]) if code and written else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
