"""requirements.lock (what `make venv` installs, with --no-deps) holds every pin of requirements.txt at the same
version, so a pin changed without `make lock` fails here instead of installing the old version silently."""
import re

from conftest import REPO


def pins(path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+)==([^\s#]+)", line)
        if match:
            found[re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_lock_pins_every_requirement_at_its_version():
    wanted, locked = pins(REPO / "requirements.txt"), pins(REPO / "requirements.lock")
    assert wanted and len(locked) > len(wanted)
    # the local torch build carries a +cpu tag
    mismatched = {name: (version, locked.get(name)) for name, version in wanted.items()
                  if locked.get(name, "").split("+")[0] != version}
    assert not mismatched, f"run `make lock`: {mismatched}"


def test_every_line_of_the_lock_is_an_exact_pin():
    lines = [line for line in (REPO / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]
    assert all(re.match(r"^[A-Za-z0-9_.-]+==\S+$", line) for line in lines), "requirements.lock: only name==version lines"
