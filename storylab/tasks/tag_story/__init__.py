"""tag_story: a reader's tags (name, traits, setting, plot preferences, tone) -> a short story using every tag."""
from storylab.tasks.tag_story.task import TASK

__all__ = ["TASK"]
