"""One section of params.yaml validated against its schema, with the first problem as one line naming the key (the
loader and the variants section both use it)."""
from __future__ import annotations

from pydantic import ValidationError

from storylab.config.schema import Section
from storylab.errors import StorylabError


def _lookup(data: dict, keys) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def one_line(source: str, where: tuple[str, ...], exc: ValidationError, model: type[Section],
             override: dict | None = None) -> str:
    """The first validation error as `file: dotted.key: what is wrong`. For a merged section, the key is named
    where it was written: the task's override (`where`) when it sets it there, else the shared default."""
    err = exc.errors()[0]
    loc = tuple(str(part) for part in err["loc"])
    prefix = where if override is None or _lookup(override, loc[:1]) else where[-1:]
    dotted = ".".join((*prefix, *loc))
    if err["type"] == "extra_forbidden":
        parent = model
        for part in err["loc"][:-1]:
            parent = parent.model_fields[part].annotation
        allowed = ", ".join(getattr(parent, "model_fields", {}))
        return f"{source}: {dotted}: unknown key; allowed keys here: {allowed}"
    if err["type"] == "missing":
        return f"{source}: {dotted}: missing; add it (see the comments in params.yaml)"
    got = f" (got {err['input']!r})" if err["type"] != "value_error" else ""
    return f"{source}: {dotted}: {err['msg'].removeprefix('Value error, ')}{got}"


def validate_section(model: type[Section], data, source: str, where: tuple[str, ...], override: dict | None = None):
    """`data` as a `model`; `override`: the task's own mapping of a merged section (see one_line)."""
    if not isinstance(data, dict):
        raise StorylabError(f"{source}: {'.'.join(where)}: expected a mapping, got {type(data).__name__} ({data!r})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StorylabError(one_line(source, where, exc, model, override)) from None
