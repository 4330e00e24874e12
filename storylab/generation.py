"""Batched greedy generation: left padding and the KV cache, so a batch costs about one question."""
from __future__ import annotations

import torch


@torch.inference_mode()
def generate_answers(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> list[str]:
    tokenizer.padding_side = "left"
    model.eval()
    device = next(model.parameters()).device
    # Longest prompts first: batches pad less; the answers are put back in the input order.
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        encoded = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True).to(device)
        output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new_tokens = output[:, encoded["input_ids"].shape[1]:]
        for index, text in zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
            answers[index] = text.strip()
    return answers
