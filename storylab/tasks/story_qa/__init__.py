"""story_qa: knowledge QA about generated biographies (the task storylab started with)."""
from storylab.tasks.story_qa.task import TASK

__all__ = ["TASK"]
