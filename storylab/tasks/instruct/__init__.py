"""instruct: Dolly-style instruction data (instruction, context, response); offline, open-book questions on stories."""
from storylab.tasks.instruct.task import TASK  # noqa: F401
