"""Typed, validated params.yaml: schema (the shared sections: a leaf, which task folders import), validation (one
section -> one-line errors), loader (tasks, overrides), variants (recipes), presets. Import from the submodule; this
file imports nothing, so `storylab.config.schema` can be imported without the loader (which imports the tasks).
`python -m storylab.config [params.yaml]` validates the whole file without running anything."""
