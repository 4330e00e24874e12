"""Optional LLM rewrites of template stories, for generate_stories: a language model retells each story more freely,
and the task checks that the retelling still carries every fact / constraint; one that does not is replaced by the
template story again. Backends: a local Hugging Face model (`hf`, a model dir: nothing is downloaded) or an
OpenAI-compatible chat endpoint (`openai`, its key read from the environment variable `api_key_env`, never from
params, and never written anywhere)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from storylab.config.schema import RewriteParams
from storylab.errors import StorylabError

INSTRUCTION = ("Rewrite the story below in your own words. Keep every phrase listed under 'Keep' exactly as written, "
               "keep the paragraph breaks (blank lines), and reply with the story only.")


def messages(text: str, keep: list[str]) -> list[dict]:
    listed = "\n".join(f"- {phrase}" for phrase in keep)
    return [{"role": "system", "content": INSTRUCTION},
            {"role": "user", "content": f"Keep:\n{listed}\n\nStory:\n{text}"}]


def hf_backend(params: RewriteParams) -> Callable[[list[dict]], str]:
    if not Path(params.model).is_dir():
        raise StorylabError(f"rewrite.model: {params.model!r} is not a local model dir; the hf backend loads from "
                            "disk only (save the model with save_pretrained, or use backend: none)")
    import torch
    from transformers import pipeline

    from storylab.device import accelerator, enable_fast_matmul

    enable_fast_matmul()
    generator = pipeline("text-generation", model=params.model, device=accelerator())
    torch.manual_seed(params.seed)
    sampling = {"do_sample": True, "temperature": params.temperature} if params.temperature > 0 else {
        "do_sample": False}

    def rewrite(chat: list[dict]) -> str:
        out = generator(chat, max_new_tokens=params.max_new_tokens, return_full_text=False, **sampling)
        return out[0]["generated_text"]

    return rewrite


def openai_backend(params: RewriteParams) -> Callable[[list[dict]], str]:
    import openai

    key = os.environ.get(params.api_key_env)
    if not key:
        raise StorylabError(f"rewrite.api_key_env: the environment variable {params.api_key_env} is not set; export "
                            "the endpoint's key there (it is never read from params)")
    client = openai.OpenAI(base_url=params.base_url, api_key=key, max_retries=2, timeout=120)

    def rewrite(chat: list[dict]) -> str:
        try:
            reply = client.chat.completions.create(model=params.model, messages=chat, seed=params.seed,
                                                   temperature=params.temperature, max_tokens=params.max_new_tokens)
        except openai.APIConnectionError as exc:
            raise StorylabError(f"rewrite.base_url: cannot reach {params.base_url} ({exc.__cause__ or exc})") from None
        except openai.APIStatusError as exc:
            raise StorylabError(f"rewrite: {params.base_url} answered {exc.status_code}; check model, base_url and "
                                f"the key in {params.api_key_env}") from None
        return reply.choices[0].message.content or ""

    return rewrite


BACKENDS = {"hf": hf_backend, "openai": openai_backend}


def rewrite_stories(task, files: dict[str, list[dict]], params: RewriteParams) -> dict:
    """Rewrite the task's rewritable texts in place (the first max_records, 0: all); a rewrite that fails the task's
    check, or comes back empty, leaves the template text. Returns the counts for the stage's metrics."""
    targets = task.rewrite_targets(files)
    if not targets:
        raise StorylabError(f"tasks.{task.name}.generate_stories.rewrite: task {task.name} has no texts to rewrite; "
                            "set backend: none")
    if params.max_records:
        targets = targets[:params.max_records]
    rewrite = BACKENDS[params.backend](params)
    kept = 0
    for record, field, keep in targets:
        text = rewrite(messages(record[field], keep)).strip()
        if text and task.keeps_facts(text, record):
            record[field] = text
            kept += 1
    return {"backend": params.backend, "attempted": len(targets), "rewritten": kept, "fell_back": len(targets) - kept}
