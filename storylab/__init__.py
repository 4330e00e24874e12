"""storylab: the shared code of the pipeline (config, data I/O, tasks, models, training, scoring, reporting).

Importing it pins the CPU math libraries before torch loads: a fixed thread count (STORYLAB_THREADS, default 2), no
dynamic threading, and MKL in its alignment-independent mode (MKL_CBWR=AUTO,STRICT), so two runs on one machine train
the same weights bit for bit. The kernels are the CPU's best (AVX-512 where there is one): capping them at AVX2
did not make runs reproduce across CPU generations anyway and cost ~1.6x in training time (docs/experiments.md,
2026-11-29). A variable already set in the environment wins, e.g. MKL_CBWR=AVX2,STRICT ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2 for the AVX2 code paths on any x86-64 CPU.

Where stderr is not a terminal (dvc repro in a log, CI), the libraries' progress bars are off: training prints one
line per logging step instead (storylab.training.ProgressLines).
"""
import os
import sys

_THREADS = os.environ.get("STORYLAB_THREADS", "2")
for _name, _value in {"MKL_CBWR": "AUTO,STRICT", "MKL_DYNAMIC": "FALSE", "OMP_NUM_THREADS": _THREADS,
                      "MKL_NUM_THREADS": _THREADS}.items():
    os.environ.setdefault(_name, _value)
if not sys.stderr.isatty():
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
