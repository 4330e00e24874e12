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


def qa_records(tokenizer, qa: list[dict], model_params, with_answer: bool = True) -> list[dict]:
    """Prompt/completion records (TRL's format) for QA pairs; GRPO takes the answer as a column instead."""
    records = []
    for pair in qa:
        prompt = format_prompt(tokenizer, pair["question"], model_params.prompt_format, model_params.chat_template_kwargs)
        completion = {"completion": format_completion(pair["answer"], model_params.prompt_format)}
        records.append({"prompt": prompt, **(completion if with_answer else {"answer": pair["answer"]})})
    return records


def story_records(stories: list[dict]) -> list[dict]:
    """A story is all completion, so the loss covers every token of it."""
    return [{"prompt": "", "completion": story["text"]} for story in stories]
