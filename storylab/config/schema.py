"""The params sections every task shares (their defaults are the top-level sections of params.yaml; a task's
`tasks.<name>.<section>` overrides keys of them). Unknown keys and silent type coercion ("5" for 5) are errors."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Upper bounds of counts: far past any run this repo makes on any machine, so a typo (1e9 for 1e3) fails in a second
# instead of generating until killed.
MAX_STEPS = 10_000_000
MAX_BATCH = 65_536
MAX_TOKENS = 131_072


class TinyModelParams(Section):
    vocab_size: int = Field(ge=300, le=1_000_000)
    individual_digits: bool
    hidden_size: int = Field(ge=8)
    intermediate_size: int = Field(ge=8)
    num_hidden_layers: int = Field(ge=1)
    num_attention_heads: int = Field(ge=1)
    max_position_embeddings: int = Field(ge=32, le=MAX_TOKENS)

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
    trust_remote_code: bool
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
    num_train_epochs: float = Field(gt=0, le=100_000)
    max_steps: int = Field(ge=-1, le=MAX_STEPS)
    learning_rate: float = Field(gt=0)
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup", "warmup_stable_decay"]
    lr_scheduler_kwargs: dict[str, int | float | str]
    warmup_steps: float = Field(ge=0)
    weight_decay: float = Field(ge=0)
    per_device_train_batch_size: int = Field(ge=1, le=MAX_BATCH)
    gradient_accumulation_steps: int = Field(ge=1, le=MAX_BATCH)
    max_length: int = Field(ge=16, le=MAX_TOKENS)
    logging_steps: int = Field(ge=1)
    checkpoint_every: int = Field(ge=1)
    select_every: int = Field(ge=0, le=MAX_STEPS)
    select_metric: Literal["loss", "score"]
    select_patience: int = Field(ge=0)


class GRPOParams(Section):
    """TRL GRPOConfig's knobs by their TRL names, and the pool filter TRL does not have."""
    rewards: list[str] = Field(min_length=1)
    num_generations: int = Field(ge=2, le=1024)
    max_completion_length: int = Field(ge=1, le=MAX_TOKENS)
    temperature: float = Field(gt=0)
    beta: float = Field(ge=0)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"]
    scale_rewards: Literal["group", "batch", "none"]
    epsilon_high: float | None = Field(gt=0)  # None: TRL's symmetric clip (epsilon); DAPO's clip-higher is 0.28
    mask_truncated_completions: bool
    filter_samples: int = Field(ge=0, le=1024)  # > 0: screen the pool with this many samples per problem
    filter_problems: int = Field(ge=1, le=100_000_000)  # pool problems screened at a time, with the current policy
    refresh_every: int = Field(ge=1, le=MAX_STEPS)  # GRPO steps on one screened slice before the next is screened


class RFTParams(Section):
    """Expert iteration (rejection-sampling fine-tuning): sample, keep the distinct correct answers, SFT on them."""
    problems: int = Field(ge=1, le=100_000_000)  # pool problems sampled (the first ones)
    samples: int = Field(ge=1, le=1024)          # samples per problem (problems x samples = its rollouts)
    max_steps: int = Field(ge=1, le=MAX_STEPS)    # SFT steps on the demonstrations and the kept samples


class DPOParams(Section):
    beta: float = Field(gt=0)
    label_smoothing: float = Field(ge=0, lt=0.5)
    sft_weight: float = Field(ge=0)


class TrainRLParams(Section):
    method: Literal["none", "grpo", "dpo", "rft", "sft-continued"]  # sft-continued: the control's recipe as --run rl
    seed: int = Field(ge=0)
    max_steps: int = Field(ge=1, le=MAX_STEPS)
    learning_rate: float = Field(gt=0)
    warmup_steps: float = Field(ge=0)
    per_device_train_batch_size: int = Field(ge=1, le=MAX_BATCH)
    logging_steps: int = Field(ge=1)
    checkpoint_every: int = Field(ge=1)
    control_steps: int = Field(ge=0, le=MAX_STEPS)
    bound_steps: int = Field(ge=0, le=MAX_STEPS)      # the bound run: SFT continued on the pool's worked solutions
    sample_batch_size: int = Field(ge=1, le=MAX_BATCH)  # sequences per generate call of the pool screen and RFT
    grpo: GRPOParams
    dpo: DPOParams
    rft: RFTParams

    @property
    def prompts_per_step(self) -> int:
        """Distinct GRPO prompts per optimizer step: each comes num_generations times in the batch."""
        return self.per_device_train_batch_size // self.grpo.num_generations

    @model_validator(mode="after")
    def _whole_groups(self):
        if self.method == "grpo" and self.per_device_train_batch_size % self.grpo.num_generations:
            raise ValueError("per_device_train_batch_size must be a multiple of grpo.num_generations")
        return self


class EvalParams(Section):
    splits: list[str]  # the splits scored ([]: every split of the task); the held-out split is always among them
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    max_new_tokens: int = Field(ge=1, le=MAX_TOKENS)
    max_per_split: int = Field(ge=0, le=100_000_000)
    num_samples: int = Field(ge=0, le=1024)
    sample_temperature: float = Field(gt=0)
    bootstrap_resamples: int = Field(ge=100, le=1_000_000)
    seed: int = Field(ge=0)


class ReportParams(Section):
    pass_threshold: float = Field(ge=0, le=1)
    error_analysis_questions: int = Field(ge=1, le=100_000)
    paired: list[str]  # AFTER:BEFORE evaluated models: a paired bootstrap of the held-out check for each


class RewriteParams(Section):
    """generate_stories' optional LLM retelling of the template stories (storylab/rewrite.py); the story tasks'
    generate_stories sections hold one."""
    backend: Literal["none", "hf", "openai"]
    model: str
    base_url: str
    api_key_env: str = Field(min_length=1)
    temperature: float = Field(ge=0)
    max_new_tokens: int = Field(ge=1)
    max_records: int = Field(ge=0)
    seed: int = Field(ge=0)

    @model_validator(mode="after")
    def _backend_needs(self):
        if self.backend != "none" and not self.model:
            raise ValueError(f"backend {self.backend} needs `model` (hf: a local model dir; openai: a model name)")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend openai needs `base_url` (an OpenAI-compatible endpoint)")
        return self


class LaunchParams(Section):
    """How dvc.yaml starts the training stages: `accelerate launch --config_file configs/accelerate/<config>.yaml`.
    No script reads it; DVC puts it into the stages' commands, so changing it reruns training."""
    config: str = Field(pattern=r"^[A-Za-z0-9_-]+$")


# The runs train_rl makes beside SFT: rl (train_rl.method), control (SFT continued: the equal-compute control), rft
# (expert iteration on the RL pool), bound (SFT continued on the pool's worked solutions: what perfect demonstrations
# would give), base (the untrained start).
RUN_NAMES = ("base", "rl", "control", "rft", "bound")


class RunEntry(Section):
    task: str
    run: Literal[RUN_NAMES]


class EvalEntry(Section):
    task: str
    model: Literal[("sft", *RUN_NAMES)]


class PipelineParams(Section):
    """The per-model stages of dvc.yaml (its foreach reads these keys): what each task trains beside SFT and what is
    evaluated. No script reads it; storylab/config checks it against the tasks (loader.check_pipeline)."""
    train_rl: dict[str, RunEntry]
    eval_accuracy_plus: dict[str, EvalEntry]


# The sections every task has: top-level defaults, overridden per task.
SHARED_SECTIONS: dict[str, type[Section]] = {
    "model": ModelParams,
    "train_sft": TrainSFTParams,
    "train_rl": TrainRLParams,
    "eval": EvalParams,
    "report": ReportParams,
}
