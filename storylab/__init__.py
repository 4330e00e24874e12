"""storylab: shared code for the story-knowledge fine-tuning pipeline (scripts/ are thin over it)."""
