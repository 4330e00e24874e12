"""Where a model runs and in what precision: the accelerator when there is one (this process's own GPU under a
multi-process launch), the CPU otherwise. Evaluation, sampling and rewriting place their models here; the trainers
place theirs themselves (accelerate), so a model that trains is loaded on the CPU, except a 4-bit one, which
bitsandbytes quantises on its GPU as it loads.

`model.dtype: auto` is bfloat16 on a GPU that supports it and float32 elsewhere; float16 trains with fp32
trainable weights and a loss scaler (the Trainer's fp16 mixed precision), since fp16 gradients underflow."""
from __future__ import annotations

import importlib.util
import os

import torch

from storylab.errors import StorylabError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def on_gpu() -> bool:
    return torch.cuda.is_available()


def accelerator() -> torch.device:
    """This process's device: cuda:LOCAL_RANK under `accelerate launch` / torchrun, cuda:0 alone, else the CPU."""
    if not on_gpu():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())


def zero3() -> bool:
    """Started by `accelerate launch` with a DeepSpeed ZeRO stage 3 config (configs/accelerate/deepspeed_zero3.yaml)."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true" and os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"


def resolve_dtype(name: str) -> str:
    """The dtype a params value names: `auto` is bfloat16 where the GPU supports it, float32 elsewhere."""
    if name != "auto":
        return name
    return "bfloat16" if on_gpu() and torch.cuda.is_bf16_supported() else "float32"


def weights_dtype(name: str, trains_all_weights: bool) -> torch.dtype:
    """The dtype to load weights in. A full fine-tune in float16 keeps fp32 weights (the loss scaler unscales fp32
    gradients; fp16 weights would lose the small updates); a LoRA base is frozen and loads in float16 as asked."""
    dtype = resolve_dtype(name)
    if dtype == "float16" and trains_all_weights:
        return torch.float32
    return DTYPES[dtype]


def mixed_precision(name: str) -> dict[str, bool]:
    """The Trainer's bf16 / fp16 flags: mixed precision on a GPU in the dtype params name, none on the CPU."""
    dtype = resolve_dtype(name)
    return {"bf16": on_gpu() and dtype == "bfloat16", "fp16": on_gpu() and dtype == "float16"}


def enable_fast_matmul() -> None:
    """TF32 tensor cores for float32 matmuls on a GPU (Ampere and newer; ~10 mantissa bits, what PyTorch's own
    `high` precision means); nothing on the CPU, where results stay bit for bit."""
    if on_gpu():
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True


def kv_cache() -> str:
    """The generate() KV cache: static on the CPU (the dynamic one concatenates every layer's keys and values at each
    step); dynamic on a GPU, where a static cache makes transformers compile the forward pass for every batch shape
    of every process, which a pipeline stage of a few hundred prompts never pays back."""
    return "dynamic" if on_gpu() else "static"


def place(model):
    """The model on this process's accelerator (a 4-bit or device-mapped model is already where it runs)."""
    enable_fast_matmul()
    if getattr(model, "hf_device_map", None) or getattr(model, "is_loaded_in_4bit", False):
        return model
    return model.to(accelerator())


def model_device(model) -> torch.device:
    """Where the model's inputs go: the device of its (first) parameters."""
    return next(model.parameters()).device


def check_vllm(use_vllm: bool) -> None:
    """GRPO's generation through vLLM (TRL's colocate mode: vLLM in the training process) needs vllm and a GPU."""
    if not use_vllm:
        return
    if importlib.util.find_spec("vllm") is None:
        raise StorylabError("params.yaml: train_rl.grpo.use_vllm: needs vllm, which is not installed; pip install vllm "
                            "(a version TRL supports), or set use_vllm: false")
    if not on_gpu():
        raise StorylabError("params.yaml: train_rl.grpo.use_vllm: vLLM generates on a CUDA GPU and none is visible; "
                            "set use_vllm: false")
