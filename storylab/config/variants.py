"""The variants section: every recipe of the original experiments, run by variants/dvc.yaml (and, from the
configs/pretrained.yaml overlay, by pretrained/dvc.yaml) through the same stage scripts with `--variant KIND.NAME`,
which turns a recipe into `--set` overrides of the task's sections.

A scale is one dataset of a task: keyed by the task's name, or by any name with `task` set (story_qa's naive
one-story-per-person data beside the augmented default). A recipe names its task and, where that is not the key of
its scale, the scale (`data`); `set` adds overrides of the task's sections that the recipe's fields do not cover."""
from __future__ import annotations

from typing import Any, Literal

import yaml

from pydantic import Field, model_validator

from storylab.config.schema import Section
from storylab.config.validation import validate_section
from storylab.errors import StorylabError


class VariantScale(Section):
    task: str | None = None   # the task whose data this is (default: the scale's key)
    generate_stories: dict[str, Any]
    base_sft_steps: int = Field(ge=1)
    rl_steps: int = Field(ge=1)
    control_steps: int = Field(default=0, ge=0)  # SFT steps of a `method: control` run: the GRPO cells' compute
    paired: str = ""          # the report's paired bootstraps: AFTER:BEFORE eval names, comma-separated (no spaces)


class Recipe(Section):
    task: str
    data: str | None = None   # the scale it runs on (default: the one keyed by its task)
    set: dict[str, Any] = {}  # more overrides, dotted section.key: value (e.g. train_sft.mix_qa: false)

    @property
    def scale(self) -> str:
        return self.data or self.task


class SFTVariant(Recipe):
    length: int = Field(ge=0)
    format: Literal["chat", "plain"]
    completion_only_loss: bool


class RLVariant(Recipe):
    start: str
    method: Literal["grpo", "dpo", "control"]  # control: its start's SFT continued for the scale's control_steps
    format: Literal["chat", "plain"]


class EvalVariant(Recipe):
    model: str
    format: Literal["chat", "plain"]


class VariantsParams(Section):
    scale: dict[str, VariantScale] = Field(min_length=1)
    sft: dict[str, SFTVariant] = Field(min_length=1)
    rl: dict[str, RLVariant]
    eval: dict[str, EvalVariant] = Field(min_length=1)

    def task_of(self, scale: str) -> str:
        return self.scale[scale].task or scale

    @model_validator(mode="after")
    def _references_exist(self):
        for kind in ("sft", "rl", "eval"):
            for name, recipe in getattr(self, kind).items():
                field = "data" if recipe.data else "task"
                if recipe.scale not in self.scale:
                    raise ValueError(f"{kind}.{name}.{field}: {recipe.scale!r} has no scale entry ({', '.join(self.scale)})")
                if self.task_of(recipe.scale) != recipe.task:
                    raise ValueError(f"{kind}.{name}.task: {recipe.task!r}, but its scale {recipe.scale!r} is data of "
                                     f"{self.task_of(recipe.scale)!r}")
                bad = [key for key in recipe.set if "." not in key]
                if bad:
                    raise ValueError(f"{kind}.{name}.set.{bad[0]}: expected a dotted section.key")
        for name, run in self.rl.items():
            if run.start not in self.sft:
                raise ValueError(f"rl.{name}.start: {run.start!r} is not an sft variant ({', '.join(self.sft)})")
            start = self.sft[run.start]
            if run.format != start.format:
                raise ValueError(f"rl.{name}.format must be the train format of its start model {run.start!r}")
            if run.scale != start.scale:
                raise ValueError(f"rl.{name}: runs on scale {run.scale!r}, its start model {run.start!r} on {start.scale!r}")
            if run.method == "control" and not self.scale[run.scale].control_steps:
                raise ValueError(f"rl.{name}.method: control needs scale.{run.scale}.control_steps >= 1 (its SFT steps)")
        for name, scale in self.scale.items():
            evals = {key for key, run in self.eval.items() if run.scale == name}
            for pair in filter(None, scale.paired.split(",")):
                after, _, before = pair.partition(":")
                missing = [model for model in (after, before) if model not in evals]
                if missing:
                    raise ValueError(f"scale.{name}.paired: {pair!r}: {missing[0]!r} is not an eval of this scale "
                                     f"({', '.join(sorted(evals)) or 'none'})")
        clashes = set(self.sft) & set(self.rl)
        if clashes:
            raise ValueError(f"{sorted(clashes)[0]!r} names both an sft and an rl variant")
        models = {**self.sft, **self.rl}
        for name, run in self.eval.items():
            if run.model not in models:
                raise ValueError(f"eval.{name}.model: {run.model!r} is not an sft or rl variant")
            if run.scale != models[run.model].scale:
                raise ValueError(f"eval.{name}: runs on scale {run.scale!r}, its model {run.model!r} on "
                                 f"{models[run.model].scale!r}")
        return self


def _set(values: dict[str, Any]) -> list[str]:
    """`--set` strings; the values as YAML (flow style: a list or mapping stays one)."""
    return [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
            for key, value in values.items()]


def _scale(variants: VariantsParams, name: str) -> list[str]:
    return _set({f"generate_stories.{key}": value for key, value in variants.scale[name].generate_stories.items()})


def _sft(variants: VariantsParams, name: str) -> list[str]:
    run = variants.sft[name]
    return _set({"train_sft.max_steps": run.length * variants.scale[run.scale].base_sft_steps,
                 "train_sft.completion_only_loss": run.completion_only_loss,
                 "model.prompt_format": run.format, **run.set})


def _rl(variants: VariantsParams, name: str) -> list[str]:
    run = variants.rl[name]
    scale = variants.scale[run.scale]
    method = {"train_rl.method": "sft-continued", "train_rl.control_steps": scale.control_steps} \
        if run.method == "control" else {"train_rl.method": run.method}
    return _set({**method, "train_rl.max_steps": scale.rl_steps, "model.prompt_format": run.format, **run.set})


def _eval(variants: VariantsParams, name: str) -> list[str]:
    run = variants.eval[name]
    return _set({"model.prompt_format": run.format, **run.set})


# --variant KIND.NAME: what a recipe changes in the sections a stage reads (scale: NAME is the task).
VARIANT_OVERRIDES = {"scale": _scale, "sft": _sft, "rl": _rl, "eval": _eval}


def validate_variants(data: dict, source: str) -> VariantsParams:
    variants = validate_section(VariantsParams, data["variants"], source, ("variants",))
    for scale in variants.scale:
        if variants.task_of(scale) not in data.get("tasks", {}):
            where = f"variants.scale.{scale}" + (".task" if variants.scale[scale].task else "")
            raise StorylabError(f"{source}: {where}: {variants.task_of(scale)!r} is not a task of the tasks section "
                                f"({', '.join(data.get('tasks', {}))})")
    return variants


def variant_overrides(data: dict, source: str, variant: str, task: str) -> list[str]:
    """The overrides of `--variant KIND.NAME` for a stage of `task`."""
    kind, _, name = variant.partition(".")
    if kind not in VARIANT_OVERRIDES:
        raise StorylabError(f"--variant {variant}: unknown kind {kind!r}; use one of {', '.join(VARIANT_OVERRIDES)}")
    if "variants" not in data:
        raise StorylabError(f"--variant {variant}: {source} has no variants section")
    variants = validate_variants(data, source)
    recipes = variants.scale if kind == "scale" else getattr(variants, kind)
    if name not in recipes:
        raise StorylabError(f"--variant {variant}: {source} has no variants.{kind}.{name}; known: {', '.join(recipes)}")
    recipe_task = variants.task_of(name) if kind == "scale" else recipes[name].task
    if recipe_task != task:
        raise StorylabError(f"--variant {variant}: a recipe of task {recipe_task!r}, but the stage runs --task {task}")
    return VARIANT_OVERRIDES[kind](variants, name)
