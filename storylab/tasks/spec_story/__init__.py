"""spec_story: structured spec -> horror story, SFT then DPO, judged by constraint checks."""
from storylab.tasks.spec_story.task import TASK

__all__ = ["TASK"]
