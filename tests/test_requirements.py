"""requirements.lock (what `make venv` installs, with --no-deps) holds every pin of requirements.txt at the same
version, so a pin changed without `make lock` fails here instead of installing the old version silently; the GPU
target's requirements-gpu.lock holds requirements-gpu.txt's pins over those, and every shared package at the CPU
lock's version. Its resolution was checked with `pip install --dry-run` (make lock); nothing is installed here."""
import re

import pytest

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
    mismatched = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not mismatched, f"run `make lock`: {mismatched}"


def test_the_gpu_lock_is_the_cpu_lock_with_a_cuda_torch_and_the_gpu_extras():
    cpu, gpu_wanted, gpu = pins(REPO / "requirements.lock"), pins(REPO / "requirements-gpu.txt"), pins(REPO / "requirements-gpu.lock")
    assert {"torch", "bitsandbytes", "deepspeed"} <= set(gpu_wanted)
    assert {name: gpu.get(name) for name in gpu_wanted} == gpu_wanted, "run `make lock`"
    assert {name: (version, gpu.get(name)) for name, version in cpu.items()
            if name not in gpu_wanted and gpu.get(name) != version} == {}, "run `make lock`"
    assert any(name.startswith("nvidia-") for name in gpu), "torch's CUDA runtime wheels"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-gpu.lock"])
def test_every_line_of_a_lock_is_an_exact_public_pin(lock):
    """name==version lines only, and no local version tag (+cpu): a tag resolves only from the index that built it."""
    lines = [line for line in (REPO / lock).read_text().splitlines() if line and not line.startswith("#")]
    assert all(re.match(r"^[A-Za-z0-9_.-]+==[^\s+]+$", line) for line in lines), f"{lock}: only name==version lines"
