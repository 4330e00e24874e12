"""Prompt formatting shared by training, RL and evaluation, so every stage asks the same question."""
from __future__ import annotations

PLAIN_TEMPLATE = "Question: {question}\nAnswer:"


def _chat_prompt(tokenizer, question: str, chat_template_kwargs: dict) -> str:
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
