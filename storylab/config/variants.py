"""The variants section: every recipe of the original experiments, run by variants/dvc.yaml through the same
stage scripts with `--variant KIND.NAME`, which turns a recipe into `--set` overrides of the task's sections."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from storylab.config.schema import Section
from storylab.config.validation import validate_section
from storylab.errors import StorylabError


class VariantScale(Section):
    generate_stories: dict[str, Any]
    base_sft_steps: int = Field(ge=1)
    rl_steps: int = Field(ge=1)


class SFTVariant(Section):
    task: str
    length: int = Field(ge=0)
    format: Literal["chat", "plain"]
    completion_only_loss: bool


class RLVariant(Section):
    task: str
    start: str
    method: Literal["grpo", "dpo"]
    format: Literal["chat", "plain"]


class EvalVariant(Section):
    task: str
    model: str
    format: Literal["chat", "plain"]


class VariantsParams(Section):
    scale: dict[str, VariantScale] = Field(min_length=1)
    sft: dict[str, SFTVariant] = Field(min_length=1)
    rl: dict[str, RLVariant]
    eval: dict[str, EvalVariant] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_exist(self):
        for kind in ("sft", "rl", "eval"):
            for name, recipe in getattr(self, kind).items():
                if recipe.task not in self.scale:
                    raise ValueError(f"{kind}.{name}.task: {recipe.task!r} has no scale entry ({', '.join(self.scale)})")
        for name, run in self.rl.items():
            if run.start not in self.sft:
                raise ValueError(f"rl.{name}.start: {run.start!r} is not an sft variant ({', '.join(self.sft)})")
            start = self.sft[run.start]
            if run.format != start.format:
                raise ValueError(f"rl.{name}.format must be the train format of its start model {run.start!r}")
            if run.task != start.task:
                raise ValueError(f"rl.{name}.task must be the task of its start model {run.start!r} ({start.task})")
        clashes = set(self.sft) & set(self.rl)
        if clashes:
            raise ValueError(f"{sorted(clashes)[0]!r} names both an sft and an rl variant")
        models = {**self.sft, **self.rl}
        for name, run in self.eval.items():
            if run.model not in models:
                raise ValueError(f"eval.{name}.model: {run.model!r} is not an sft or rl variant")
            if run.task != models[run.model].task:
                raise ValueError(f"eval.{name}.task must be the task of its model {run.model!r}")
        return self


def _scale(variants: VariantsParams, task: str) -> list[str]:
    return [f"generate_stories.{key}={value}" for key, value in variants.scale[task].generate_stories.items()]


def _sft(variants: VariantsParams, name: str) -> list[str]:
    run = variants.sft[name]
    return [f"train_sft.max_steps={run.length * variants.scale[run.task].base_sft_steps}",
            f"train_sft.completion_only_loss={str(run.completion_only_loss).lower()}",
            f"model.prompt_format={run.format}"]


def _rl(variants: VariantsParams, name: str) -> list[str]:
    run = variants.rl[name]
    return [f"train_rl.method={run.method}", f"train_rl.max_steps={variants.scale[run.task].rl_steps}",
            f"model.prompt_format={run.format}"]


def _eval(variants: VariantsParams, name: str) -> list[str]:
    return [f"model.prompt_format={variants.eval[name].format}"]


# --variant KIND.NAME: what a recipe changes in the sections a stage reads (scale: NAME is the task).
VARIANT_OVERRIDES = {"scale": _scale, "sft": _sft, "rl": _rl, "eval": _eval}


def validate_variants(data: dict, source: str) -> VariantsParams:
    variants = validate_section(VariantsParams, data["variants"], source, ("variants",))
    for task in variants.scale:
        if task not in data.get("tasks", {}):
            raise StorylabError(f"{source}: variants.scale.{task}: not a task of the tasks section "
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
    recipe_task = name if kind == "scale" else recipes[name].task
    if recipe_task != task:
        raise StorylabError(f"--variant {variant}: a recipe of task {recipe_task!r}, but the stage runs --task {task}")
    return VARIANT_OVERRIDES[kind](variants, name)
