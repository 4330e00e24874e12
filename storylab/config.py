"""Typed, validated params.yaml. Each stage loads only the sections dvc.yaml declares for it.

`python -m storylab.config [params.yaml]` validates every section (the Makefile runs it before
`dvc repro`, so a typo fails in a second rather than after training). Stage scripts also take
`--set section.key=value` overrides (YAML values), validated the same way: the variants pipeline
(variants/dvc.yaml) runs the same scripts with the overrides of each recipe.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storylab.errors import StorylabError, run


class Section(BaseModel):
    """Unknown keys and silent type coercion ("5" for 5) are errors, not surprises."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GenerateStoriesParams(Section):
    seed: int = Field(ge=0)
    num_entities: int = Field(ge=4)
    num_unseen_entities: int = Field(ge=0)
    stories_per_entity: int = Field(ge=1)
    permute_sentences: bool
    distractors_per_story: int = Field(ge=0, le=6)
    pronoun_fraction: float = Field(ge=0, le=1)


class BuildQAParams(Section):
    seed: int = Field(ge=0)
    test_fraction: float = Field(gt=0, lt=1)
    train_phrasings_per_fact: int = Field(ge=1)


class TinyModelParams(Section):
    vocab_size: int = Field(ge=300)
    hidden_size: int = Field(ge=8)
    intermediate_size: int = Field(ge=8)
    num_hidden_layers: int = Field(ge=1)
    num_attention_heads: int = Field(ge=1)
    max_position_embeddings: int = Field(ge=32)

    @model_validator(mode="after")
    def _heads_divide_hidden(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        return self


class LoraParams(Section):
    enabled: bool
    r: int = Field(ge=1)
    alpha: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target_modules: str | list[str]


class ModelParams(Section):
    name_or_path: str = Field(min_length=1)
    dtype: Literal["float32", "bfloat16", "float16"]
    load_in_4bit: bool
    prompt_format: Literal["chat", "plain"]
    chat_template_kwargs: dict[str, bool | int | float | str]
    tiny: TinyModelParams
    lora: LoraParams

    @model_validator(mode="after")
    def _qlora_needs_lora(self):
        if self.load_in_4bit and not self.lora.enabled:
            raise ValueError("load_in_4bit (QLoRA) trains LoRA adapters: set model.lora.enabled: true")
        return self


class TrainSFTParams(Section):
    seed: int = Field(ge=0)
    mix_qa: bool
    completion_only_loss: bool
    num_train_epochs: float = Field(gt=0)
    max_steps: int = Field(ge=-1)
    learning_rate: float = Field(gt=0)
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup"]
    warmup_steps: float = Field(ge=0)
    weight_decay: float = Field(ge=0)
    per_device_train_batch_size: int = Field(ge=1)
    gradient_accumulation_steps: int = Field(ge=1)
    max_length: int = Field(ge=16)
    logging_steps: int = Field(ge=1)


class GRPOParams(Section):
    rewards: list[str] = Field(min_length=1)
    num_generations: int = Field(ge=2)
    max_completion_length: int = Field(ge=1)
    temperature: float = Field(gt=0)
    beta: float = Field(ge=0)

    @model_validator(mode="after")
    def _known_rewards(self):
        from storylab.scoring import REWARD_FUNCS

        unknown = [name for name in self.rewards if name not in REWARD_FUNCS]
        if unknown:
            raise ValueError(f"unknown reward {unknown[0]!r}; allowed: {', '.join(REWARD_FUNCS)}")
        return self


class DPOParams(Section):
    beta: float = Field(gt=0)
    label_smoothing: float = Field(ge=0, lt=0.5)


class TrainRLParams(Section):
    method: Literal["none", "grpo", "dpo"]
    seed: int = Field(ge=0)
    max_steps: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    per_device_train_batch_size: int = Field(ge=1)
    logging_steps: int = Field(ge=1)
    grpo: GRPOParams
    dpo: DPOParams

    @model_validator(mode="after")
    def _whole_groups(self):
        if self.method == "grpo" and self.per_device_train_batch_size % self.grpo.num_generations:
            raise ValueError("per_device_train_batch_size must be a multiple of grpo.num_generations")
        return self


class EvalParams(Section):
    short_thresh: int = Field(ge=1)
    rouge_thresh: float = Field(ge=0, le=1)
    batch_size: int = Field(ge=1)
    max_new_tokens: int = Field(ge=1)
    bootstrap_resamples: int = Field(ge=100)
    seed: int = Field(ge=0)


class ReportParams(Section):
    pass_threshold: float = Field(ge=0, le=1)
    error_analysis_questions: int = Field(ge=1)


class VariantScale(Section):
    num_entities: int = Field(ge=4)
    num_unseen_entities: int = Field(ge=0)
    base_sft_steps: int = Field(ge=1)
    rl_steps: int = Field(ge=1)


class SFTVariant(Section):
    length: int = Field(ge=0)
    format: Literal["chat", "plain"]
    completion_only_loss: bool


class RLVariant(Section):
    start: str
    method: Literal["grpo", "dpo"]
    format: Literal["chat", "plain"]


class EvalVariant(Section):
    model: str
    format: Literal["chat", "plain"]


class VariantsParams(Section):
    scale: VariantScale
    sft: dict[str, SFTVariant] = Field(min_length=1)
    rl: dict[str, RLVariant]
    eval: dict[str, EvalVariant] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_exist(self):
        for name, run in self.rl.items():
            if run.start not in self.sft:
                raise ValueError(f"rl.{name}.start: {run.start!r} is not an sft variant ({', '.join(self.sft)})")
            if run.format != self.sft[run.start].format:
                raise ValueError(f"rl.{name}.format must be the train format of its start model {run.start!r}")
        clashes = set(self.sft) & set(self.rl)
        if clashes:
            raise ValueError(f"{sorted(clashes)[0]!r} names both an sft and an rl variant")
        for name, run in self.eval.items():
            if run.model not in self.sft and run.model not in self.rl:
                raise ValueError(f"eval.{name}.model: {run.model!r} is not an sft or rl variant")
        return self


SECTIONS: dict[str, type[Section]] = {
    "generate_stories": GenerateStoriesParams,
    "build_qa": BuildQAParams,
    "model": ModelParams,
    "train_sft": TrainSFTParams,
    "train_rl": TrainRLParams,
    "eval": EvalParams,
    "report": ReportParams,
    "variants": VariantsParams,
}


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise StorylabError(f"{path}: file not found; run from the repo root or pass the params file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise StorylabError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise StorylabError(f"{path}: expected a mapping of sections ({', '.join(SECTIONS)})")
    return data


def _one_line(path: Path | str, section: str, exc: ValidationError, model: type[Section]) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in (section, *err["loc"]))
    if err["type"] == "extra_forbidden":
        parent = model
        for part in err["loc"][:-1]:
            parent = parent.model_fields[part].annotation
        allowed = ", ".join(getattr(parent, "model_fields", {}))
        return f"{path}: {loc}: unknown key; allowed keys here: {allowed}"
    if err["type"] == "missing":
        return f"{path}: {loc}: missing; add it (see the comments in params.yaml)"
    got = f" (got {err['input']!r})" if err["type"] != "value_error" else ""
    return f"{path}: {loc}: {err['msg'].removeprefix('Value error, ')}{got}"


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """`section.key.sub=value` strings (values parsed as YAML) set into a copy of the params mapping."""
    data = copy.deepcopy(data)
    for override in overrides:
        dotted, sep, raw = override.partition("=")
        keys = dotted.split(".")
        if not sep or len(keys) < 2 or keys[0] not in SECTIONS:
            raise StorylabError(f"--set {override}: expected section.key=value with a section of "
                                f"{', '.join(SECTIONS)}")
        node = data.setdefault(keys[0], {})
        for key in keys[1:-1]:
            if not isinstance(node.get(key), dict):
                raise StorylabError(f"--set {override}: {key} is not a mapping in the params file")
            node = node[key]
        node[keys[-1]] = yaml.safe_load(raw)
    return data


def load_section(section: str, path: str | Path = "params.yaml", overrides: list[str] | None = None):
    """Validated params of one section (after any --set overrides); raises StorylabError in one line."""
    path = Path(path)
    data = apply_overrides(_read_yaml(path), overrides or [])
    if section not in data:
        raise StorylabError(f"{path}: section {section!r} missing; add it (see the README)")
    model = SECTIONS[section]
    try:
        return model.model_validate(data[section])
    except ValidationError as exc:
        source = f"{path} with --set {' '.join(overrides)}" if overrides else path
        raise StorylabError(_one_line(source, section, exc, model)) from None


def _scale_overrides(variants: VariantsParams, name: str) -> list[str]:
    scale = variants.scale
    return [f"generate_stories.num_entities={scale.num_entities}",
            f"generate_stories.num_unseen_entities={scale.num_unseen_entities}"]


def _sft_overrides(variants: VariantsParams, name: str) -> list[str]:
    run = variants.sft[name]
    return [f"train_sft.max_steps={run.length * variants.scale.base_sft_steps}",
            f"train_sft.completion_only_loss={str(run.completion_only_loss).lower()}",
            f"model.prompt_format={run.format}"]


def _rl_overrides(variants: VariantsParams, name: str) -> list[str]:
    run = variants.rl[name]
    return [f"train_rl.method={run.method}", f"train_rl.max_steps={variants.scale.rl_steps}",
            f"model.prompt_format={run.format}"]


def _eval_overrides(variants: VariantsParams, name: str) -> list[str]:
    return [f"model.prompt_format={variants.eval[name].format}"]


# --variant KIND.NAME: what a recipe in the `variants` section changes in the sections a stage reads.
VARIANT_OVERRIDES = {"scale": _scale_overrides, "sft": _sft_overrides, "rl": _rl_overrides, "eval": _eval_overrides}


def add_params_arguments(parser) -> None:
    """--params, --variant and --set, the same in every stage script."""
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--variant", metavar="KIND.NAME",
                        help="apply a recipe of the params' variants section: scale, sft.NAME, rl.NAME or eval.NAME")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one param (YAML value); repeatable, applied after --variant")


def overrides_from(args) -> list[str]:
    """The --variant recipe's overrides, then the explicit --set ones."""
    if not args.variant:
        return list(args.overrides)
    kind, _, name = args.variant.partition(".")
    if kind not in VARIANT_OVERRIDES:
        raise StorylabError(f"--variant {args.variant}: unknown kind {kind!r}; use one of {', '.join(VARIANT_OVERRIDES)}")
    variants = load_section("variants", args.params)
    if kind != "scale" and name not in getattr(variants, kind):
        raise StorylabError(f"--variant {args.variant}: {args.params} has no variants.{kind}.{name}; "
                            f"known: {', '.join(getattr(variants, kind))}")
    return VARIANT_OVERRIDES[kind](variants, name) + list(args.overrides)


def validate_all(path: str | Path = "params.yaml") -> dict[str, Section]:
    path = Path(path)
    data = _read_yaml(path)
    unknown = [key for key in data if key not in SECTIONS]
    if unknown:
        raise StorylabError(f"{path}: {unknown[0]}: unknown section; allowed: {', '.join(SECTIONS)}")
    return {section: load_section(section, path) for section in SECTIONS}


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "params.yaml"
    validate_all(path)
    print(f"{path}: ok")


if __name__ == "__main__":
    run(main)
