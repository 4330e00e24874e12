"""word_math: GSM8K-style word problems with a binary reward, the task where RL has to earn its place."""
from storylab.tasks.word_math.task import TASK

__all__ = ["TASK"]
