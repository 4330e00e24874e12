"""Prompt formatting shared by training, RL and evaluation, so every stage asks the same question the same way."""
from __future__ import annotations

import re

from storylab.errors import StorylabError

PLAIN_TEMPLATE = "Question: {question}\nAnswer:"


def _chat_prompt(tokenizer, question: str, chat_template_kwargs: dict) -> str:
    if not tokenizer.chat_template:
        raise StorylabError(f"model.prompt_format chat: the tokenizer of {tokenizer.name_or_path or 'this model'} has no "
                            "chat template; set model.prompt_format: plain (or use a chat model)")
    text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True, **chat_template_kwargs)
    # Tokenizers that add BOS themselves would otherwise see it twice (once from the template).
    bos = tokenizer.bos_token
    if bos and text.startswith(bos) and tokenizer("x")["input_ids"][:1] == [tokenizer.bos_token_id]:
        text = text[len(bos):]
    return text


def _plain_prompt(tokenizer, question: str, chat_template_kwargs: dict) -> str:
    return PLAIN_TEMPLATE.format(question=question)


PROMPT_FORMATS = {"chat": _chat_prompt, "plain": _plain_prompt}


def format_prompt(tokenizer, question: str, prompt_format: str, chat_template_kwargs: dict | None = None) -> str:
    return PROMPT_FORMATS[prompt_format](tokenizer, question, chat_template_kwargs or {})


def format_completion(answer: str, prompt_format: str) -> str:
    """The answer as the model should generate it: after "Answer:" a space separates it."""
    return " " + answer if prompt_format == "plain" else answer


def prompts_for(tokenizer, records: list[dict], model_params) -> list[str]:
    """Each record's question, asked in the model's prompt format (what evaluation and GRPO generate from)."""
    return [format_prompt(tokenizer, r["question"], model_params.prompt_format, model_params.chat_template_kwargs)
            for r in records]


def fit_completion(tokenizer, prompt: str, completion: str, max_length: int) -> str:
    """The completion cut so that prompt + completion + the end token fit in max_length tokens: at the last sentence
    end that fits (else the last word), never inside the prompt. TRL would cut the sequence itself from the right,
    dropping the end token with the story's tail, so the model would never learn to stop on a long example."""
    def fits(text: str) -> bool:
        return len(tokenizer(prompt + text)["input_ids"]) + 1 <= max_length

    if fits(completion):
        return completion
    for pattern in (r"[.!?](?=\s|$)", r"\S(?=\s)"):  # sentence ends, then word ends
        cut = next((end for end in reversed([m.end() for m in re.finditer(pattern, completion)])
                    if fits(completion[:end])), None)
        if cut is not None:
            return completion[:cut]
    return ""


def sft_records(tokenizer, records: list[dict], model_params, max_length: int | None = None) -> list[dict]:
    """Prompt/completion records (TRL's format): with completion_only_loss only the answer carries loss. With
    max_length, an answer too long to fit with its prompt and the end token is cut by fit_completion."""
    prompts = prompts_for(tokenizer, records, model_params)
    completions = [format_completion(r["answer"], model_params.prompt_format) for r in records]
    if max_length:
        completions = [fit_completion(tokenizer, p, c, max_length) for p, c in zip(prompts, completions)]
    return [{"prompt": p, "completion": c} for p, c in zip(prompts, completions)]


def document_records(documents: list[dict]) -> list[dict]:
    """A document (a story) is all completion, so the loss covers every token of it."""
    return [{"prompt": "", "completion": document["text"]} for document in documents]
