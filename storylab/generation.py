"""Batched generation: left padding, inputs on the model's device, and the KV cache storylab.device.kv_cache picks (on the
CPU a static one, preallocated for prompt + new tokens), so a batch costs about one prompt."""
from __future__ import annotations

import torch

from storylab.device import kv_cache, model_device
from storylab.errors import StorylabError


def model_positions(model) -> int | None:
    """The longest sequence the model takes (its position table), where its config says."""
    config = model.config
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)


def check_length(model, length: int, what: str) -> None:
    """Before training: sequences of `length` tokens fit in the model's positions."""
    positions = model_positions(model)
    if positions and length > positions:
        raise StorylabError(f"{what} {length} exceeds the model's {positions} positions; lower it to at most {positions}")


def check_fits(model, tokenizer, prompts: list[str], new_tokens: int, what: str) -> None:
    """Before generating: the longest prompt and `new_tokens` more fit in the model's positions. Past them a model
    generates on (rotary positions extrapolate) into garbage, or fails after every earlier batch has run."""
    positions = model_positions(model)
    if positions is None or not prompts:
        return
    longest = max(map(len, tokenizer(prompts)["input_ids"]))
    if longest + new_tokens > positions:
        raise StorylabError(f"{what} {new_tokens}: with the longest prompt ({longest} tokens) that exceeds the model's "
                            f"{positions} positions; lower {what} to at most {max(positions - longest, 0)}")


@torch.inference_mode()
def generate_completions(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int,
                         num_samples: int = 0, temperature: float = 1.0, seed: int = 0,
                         top_p: float = 1.0) -> list[list[dict]]:
    """Per prompt, one greedy completion (num_samples 0) or num_samples sampled at `temperature` (no top-k cut;
    nucleus `top_p`). A completion is {"text", "stopped", "tokens"}: stopped says whether it generated the end token,
    read from the token ids (a decoded text cannot tell an end token from a length cut); tokens, how many it
    generated (the compute it cost)."""
    tokenizer.padding_side = "left"
    model.eval()
    device = model_device(model)
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": top_p,
                "num_return_sequences": num_samples} if num_samples else {"do_sample": False}
    if num_samples:
        torch.manual_seed(seed)
    per_prompt = max(1, num_samples)
    # Longest prompts first: batches pad less; the completions are put back in the input order.
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    results: list[list[dict]] = [[] for _ in prompts]
    step = max(1, batch_size // per_prompt)
    for start in range(0, len(order), step):
        batch = order[start:start + step]
        encoded = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True).to(device)
        output = model.generate(**encoded, max_new_tokens=max_new_tokens, use_cache=True, cache_implementation=kv_cache(),
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **sampling)
        new_tokens = output[:, encoded["input_ids"].shape[1]:]
        ends = new_tokens == tokenizer.eos_token_id
        stopped = ends.any(dim=1)
        # generated tokens: up to and including the end token (what follows it is padding)
        lengths = torch.where(stopped, ends.int().argmax(dim=1) + 1, new_tokens.shape[1]).tolist()
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for row, (text, ended, length) in enumerate(zip(texts, stopped.tolist(), lengths)):
            results[batch[row // per_prompt]].append({"text": text.strip(), "stopped": ended, "tokens": length})
    return results


def generate_answers(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> list[str]:
    """Greedy answers, one per prompt."""
    return [completions[0]["text"]
            for completions in generate_completions(model, tokenizer, prompts, batch_size, max_new_tokens)]


@torch.inference_mode()
def completion_logprobs(model, tokenizer, prompts: list[str], completions: list[str],
                        batch_size: int) -> list[tuple[float, int]]:
    """Per (prompt, completion): the summed log-probability of the completion's tokens and the end token after it,
    and how many tokens that is. Prompt and completion are tokenised together, as TRL's trainers do."""
    model.eval()
    device = model_device(model)
    results = []
    for start in range(0, len(prompts), batch_size):
        batch = list(zip(prompts[start:start + batch_size], completions[start:start + batch_size]))
        rows, starts = [], []
        for prompt, completion in batch:
            prompt_ids = tokenizer(prompt)["input_ids"]
            ids = tokenizer(prompt + completion)["input_ids"] + [tokenizer.eos_token_id]
            starts.append(next((i for i, (a, b) in enumerate(zip(prompt_ids, ids)) if a != b), len(prompt_ids)))
            rows.append(ids)
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, :len(ids)], attention[row, :len(ids)] = torch.tensor(ids), 1
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits.float()
        token_logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None].to(device))[..., 0]
        for row, (ids, first) in enumerate(zip(rows, starts)):
            # Position t predicts token t + 1: the completion's tokens are predicted from first - 1 on.
            results.append((float(token_logprobs[row, first - 1:len(ids) - 1].sum()), len(ids) - first))
    return results
