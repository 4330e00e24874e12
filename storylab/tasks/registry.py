"""The task registry: one line per task, its name -> the module (folder) that defines `TASK`.

dvc.yaml reads this file as params (`TASKS.<name>`), so each task's stages depend on their own line only:
adding a task here reruns nothing else."""
TASKS = {
    "story_qa": "storylab.tasks.story_qa",
    "word_math": "storylab.tasks.word_math",
    "spec_story": "storylab.tasks.spec_story",
    "tag_story": "storylab.tasks.tag_story",
    "instruct": "storylab.tasks.instruct",
}
