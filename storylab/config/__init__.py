"""Typed, validated params.yaml: schema (the shared sections), loader (tasks, overrides, one-line errors),
variants (recipes). `python -m storylab.config [params.yaml]` validates the whole file without running anything."""
from storylab.config.loader import load_params, validate_all
from storylab.config.schema import (EvalParams, ModelParams, ReportParams, Section, TrainRLParams,
                                    TrainSFTParams)

__all__ = ["EvalParams", "ModelParams", "ReportParams", "Section", "TrainRLParams", "TrainSFTParams",
           "load_params", "validate_all"]
