"""GRPO rewards from a task's scorer: each reward is one item metric of the evaluation, so RL optimises exactly
what the evaluation checks."""
from __future__ import annotations

from typing import Callable


def trl_reward(task, metric: str, score_params) -> Callable[..., list[float]]:
    """A TRL reward function (named after the metric, as TRL logs it): the task's score_item metric of each
    completion. TRL passes the dataset's other columns (task.reward_columns) as keyword lists."""
    def reward(completions: list, gold: list[str], prompts=None, completion_ids=None, trainer_state=None,
               log_extra=None, log_metric=None, environments=None, **columns) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        records = [dict(zip(columns, values)) for values in zip(*columns.values())] or [{}] * len(texts)
        return [task.score_item(text.strip(), answer, record, score_params)[metric]
                for text, answer, record in zip(texts, gold, records)]

    reward.__name__ = metric
    return reward
