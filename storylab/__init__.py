"""storylab: the shared code of the pipeline (config, data I/O, tasks, models, training, scoring, reporting).

Importing it pins the CPU math libraries before torch loads, so a run reproduces bit for bit on any x86-64 CPU with
AVX2: MKL, oneDNN and ATen otherwise pick their kernels by the CPU's instruction set (AVX-512 where there is one),
and MKL its code path by memory alignment (hence STRICT), so two machines of "the same kind" can train different
weights. They also get a fixed thread count (STORYLAB_THREADS, default 2). Runs on one machine are identical; across
CPU generations this narrows, not closes, the gap (docs/experiments.md, 2026-11-29). A variable already set in the
environment wins.

Where stderr is not a terminal (dvc repro in a log, CI), the libraries' progress bars are off: training prints one
line per logging step instead (storylab.training.ProgressLines).
"""
import os
import sys

_THREADS = os.environ.get("STORYLAB_THREADS", "2")
for _name, _value in {"MKL_CBWR": "AVX2,STRICT", "MKL_DYNAMIC": "FALSE", "ONEDNN_MAX_CPU_ISA": "AVX2",
                      "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": _THREADS, "MKL_NUM_THREADS": _THREADS}.items():
    os.environ.setdefault(_name, _value)
if not sys.stderr.isatty():
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
