"""params.yaml -> validated, typed sections for one task; every problem is one line naming the key.

Layout: the shared sections (model, train_sft, train_rl, eval, report) at the top are every task's defaults;
`tasks.<name>` holds the task's own sections (generate_stories, build_qa, score: the task's schema) and an
override mapping for each shared section (`{}` keeps the defaults). A task's effective section is the default
with the override merged in, key by key. `--set section.key=value` (a stage flag) and variant recipes write into
the task's override, so they win over both. An overlay (`--overlay configs/pretrained.yaml`) is a partial params
file merged over the whole one before anything is read: a second pipeline's scales and recipes without a copy of
the file.
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import yaml

from storylab.config.schema import SHARED_SECTIONS, LaunchParams, PipelineParams, Section
from storylab.config.validation import validate_section
from storylab.errors import StorylabError

TOP_LEVEL = ("launch", *SHARED_SECTIONS, "tasks", "pipeline", "variants")
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout this package runs from (dvc.yaml paths start there)
ACCELERATE_CONFIGS = Path("configs/accelerate")


class YAML12Loader(yaml.SafeLoader):
    """PyYAML reads `1e-4` as a string (YAML 1.1 wants `1.0e-4`); DVC reads params with YAML 1.2, where it is a
    float. Storylab reads them as DVC does, so `--set train_rl.learning_rate=1e-4` and `dvc exp run -S` agree."""


YAML12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key, first: int, second: int):
        super().__init__(f"key {key!r} is written twice, on lines {first} and {second} (the last would win silently); "
                         "keep one")
        self.line = second


def _unique_mapping(loader: YAML12Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """PyYAML keeps the last of two equal keys without a word; a params file with one is refused, naming both."""
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


YAML12Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse_yaml(text: str):
    return yaml.load(text, Loader=YAML12Loader)


def read_yaml(path: Path) -> dict:
    if path.is_dir() or not path.exists():
        raise StorylabError(f"{path}: params file not found; run from the repo root or pass --params")
    try:
        data = parse_yaml(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise StorylabError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except DuplicateKey as exc:
        raise StorylabError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise StorylabError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        raise StorylabError(f"{path}: the file is empty; restore it (git checkout {path}) or write its sections "
                            f"({', '.join(TOP_LEVEL)})")
    if not isinstance(data, dict):
        raise StorylabError(f"{path}: expected a mapping of sections ({', '.join(TOP_LEVEL)})")
    return data


def merge(base: dict, override: dict) -> dict:
    """`base` with `override` merged in key by key (nested mappings merge, anything else replaces)."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        result[key] = merge(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) \
            else copy.deepcopy(value)
    return result


def overlaid(base: dict, overlay: dict) -> dict:
    """`base` with an overlay's mapping merged in key by key, except `variants`, which it replaces: an overlay's
    recipes are a list of their own, not additions to the file's."""
    result = merge(base, {key: value for key, value in overlay.items() if key != "variants"})
    if "variants" in overlay:
        result["variants"] = copy.deepcopy(overlay["variants"])
    return result


def apply_overrides(data: dict, task: str, overrides: list[str]) -> dict:
    """`section.key.sub=value` strings (values parsed as YAML) set into the task's override of that section."""
    if not overrides:
        return data
    from storylab.tasks import get_task

    sections = (*SHARED_SECTIONS, *get_task(task).params)
    data = copy.deepcopy(data)
    for override in overrides:
        dotted, sep, raw = override.partition("=")
        keys = dotted.split(".")
        if not sep or len(keys) < 2 or keys[0] not in sections:
            raise StorylabError(f"--set {override}: expected section.key=value with a section of {', '.join(sections)}")
        node = data.setdefault("tasks", {}).setdefault(task, {}).setdefault(keys[0], {})
        for key in keys[1:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise StorylabError(f"--set {override}: {key} is not a mapping in the params file")
        node[keys[-1]] = parse_yaml(raw)
    return data


def check_model_name(name: str, source: str = "params.yaml", where: str = "model.name_or_path") -> None:
    """`tiny`, a model dir written by save_pretrained (a LoRA dir too), or a hub id in the local Hugging Face cache
    (nothing is downloaded): anything else fails here, when the params are checked, not when a stage loads it."""
    if name == "tiny":
        return
    path = Path(name)
    if path.exists():
        if not any((path / file).is_file() for file in ("config.json", "adapter_config.json")):
            raise StorylabError(f"{source}: {where}: {name} has no config.json; point it at a directory written by "
                                "save_pretrained (a GGUF file: scripts/import_model.py)")
        return
    from huggingface_hub import try_to_load_from_cache

    try:
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    except ValueError:  # not even the shape of a hub id (huggingface_hub's HFValidationError)
        pass
    fix = ("import it first: make pretrained (or dvc repro pretrained/dvc.yaml:import_model)"
           if path.parts[:2] == ("models", "pretrained") else "fix the path or download it first")
    raise StorylabError(f"{source}: {where}: {name!r} is not 'tiny', a local directory, or a model in the local "
                        f"Hugging Face cache (there is no hub access); {fix}")


def task_sections(data: dict, task: str, source: str, check_models: bool = True) -> dict[str, Section]:
    """Every section of one task, validated: its own (task schema) and the shared ones merged with its overrides;
    with check_models, its model.name_or_path must be loadable here."""
    from storylab.tasks import get_task, registered

    if task not in registered():
        raise StorylabError(f"{source}: unknown task {task!r}; registered tasks: {', '.join(registered())}")
    task_obj = get_task(task)
    entry = data.get("tasks", {}).get(task)
    if not isinstance(entry, dict):
        raise StorylabError(f"{source}: tasks.{task}: missing; add the task's sections (see params.yaml)")
    expected = (*task_obj.params, *SHARED_SECTIONS)
    unknown = [key for key in entry if key not in expected]
    if unknown:
        raise StorylabError(f"{source}: tasks.{task}.{unknown[0]}: unknown section; allowed: {', '.join(expected)}")
    sections = {}
    for name in expected:
        if name not in entry:
            hint = "" if name in task_obj.params else " ({} keeps the shared defaults)"
            raise StorylabError(f"{source}: tasks.{task}.{name}: missing; add it{hint}")
        own = entry[name] if entry[name] is not None else {}
        if name in task_obj.params:
            sections[name] = validate_section(task_obj.params[name], own, source, ("tasks", task, name))
        else:
            if not isinstance(own, dict):
                raise StorylabError(f"{source}: tasks.{task}.{name}: expected a mapping of overrides, got {own!r}")
            sections[name] = validate_section(SHARED_SECTIONS[name], merge(data[name], own), source,
                                       ("tasks", task, name), override=own)
    where = "model.name_or_path" if "name_or_path" not in (entry["model"] or {}) else f"tasks.{task}.model.name_or_path"
    if check_models:
        check_model_name(sections["model"].name_or_path, source, where)
    task_obj.check_params(SimpleNamespace(**sections), source)
    return sections


def validate_data(data: dict, source: str, check_models: bool = True) -> None:
    """The whole file: known sections, shared defaults complete, every task and the variants section valid;
    check_models false skips whether each model exists here (a preset names a model of the machine it runs on)."""
    unknown = [key for key in data if key not in TOP_LEVEL]
    if unknown:
        raise StorylabError(f"{source}: {unknown[0]}: unknown section; allowed: {', '.join(TOP_LEVEL)}")
    for name, model in {"launch": LaunchParams, **SHARED_SECTIONS}.items():
        if name not in data:
            raise StorylabError(f"{source}: section {name!r} missing; add it (see the README)")
        validate_section(model, data[name], source, (name,))
    config = ACCELERATE_CONFIGS / f"{data['launch']['config']}.yaml"
    if not (REPO_ROOT / config).is_file():
        known = ", ".join(sorted(path.stem for path in (REPO_ROOT / ACCELERATE_CONFIGS).glob("*.yaml")))
        raise StorylabError(f"{source}: launch.config: {config} not found; one of: {known}")
    if not isinstance(data.get("tasks"), dict) or not data["tasks"]:
        raise StorylabError(f"{source}: tasks: missing or empty; list at least one task (see params.yaml)")
    sections = {task: task_sections(data, task, source, check_models) for task in data["tasks"]}
    if "pipeline" not in data:
        raise StorylabError(f"{source}: section 'pipeline' missing; add it (see params.yaml)")
    check_pipeline(validate_section(PipelineParams, data["pipeline"], source, ("pipeline",)), sections, source)
    if "variants" in data:
        from storylab.config.variants import validate_variants

        validate_variants(data, source)


def check_pipeline(pipeline: PipelineParams, sections: dict[str, dict], source: str) -> None:
    """The per-model stages agree with the tasks: keys <task>-<run>, every task's SFT model evaluated, an rl run
    wherever train_rl.method trains one and a control wherever control_steps > 0 (an entry with nothing to train
    copies the SFT model, as the ablation's method none does), and each run evaluated."""
    runs = {(entry.task, entry.run) for entry in pipeline.train_rl.values()}
    evals = {(entry.task, entry.model) for entry in pipeline.eval_accuracy_plus.values()}
    for kind, entries, field in (("train_rl", pipeline.train_rl, "run"),
                                 ("eval_accuracy_plus", pipeline.eval_accuracy_plus, "model")):
        for key, entry in entries.items():
            where = f"{source}: pipeline.{kind}.{key}"
            if entry.task not in sections:
                raise StorylabError(f"{where}: task {entry.task!r} is not in tasks ({', '.join(sections)}); drop it")
            if key != f"{entry.task}-{getattr(entry, field)}":
                raise StorylabError(f"{where}: name it {entry.task}-{getattr(entry, field)} (the stage name)")
    for task, section in sections.items():
        rl = section["train_rl"]
        for run, why in (("rl", rl.method != "none" and f"tasks.{task}.train_rl.method is {rl.method}"),
                         ("control", rl.control_steps and f"tasks.{task}.train_rl.control_steps is {rl.control_steps}")):
            if why and (task, run) not in runs:
                raise StorylabError(f"{source}: pipeline.train_rl: {why} but {task}-{run} is missing; add "
                                    f"{task}-{run}: {{task: {task}, run: {run}}} and its eval_accuracy_plus entry")
        for model in ("sft", *(run for _, run in sorted(runs) if _ == task)):
            if (task, model) not in evals:
                raise StorylabError(f"{source}: pipeline.eval_accuracy_plus: {task}-{model} is missing; add "
                                    f"{task}-{model}: {{task: {task}, model: {model}}}")
    for task, section in sections.items():
        evaluated = {model for name, model in evals if name == task}
        for pair in section["report"].paired:
            names = pair.split(":")
            missing = [name for name in names if name not in evaluated] if len(names) == 2 else [pair]
            if missing:
                raise StorylabError(f"{source}: tasks.{task}.report.paired: {pair!r}: {missing[0]!r} is not an "
                                    f"evaluated model of {task} ({', '.join(sorted(evaluated))}); pairs are AFTER:BEFORE")
    orphan = sorted(key for key, entry in pipeline.eval_accuracy_plus.items()
                    if entry.model != "sft" and (entry.task, entry.model) not in runs)
    if orphan:
        raise StorylabError(f"{source}: pipeline.eval_accuracy_plus.{orphan[0]}: no train_rl entry makes that model; "
                            "drop it or add the run")


@lru_cache(maxsize=8)
def _validated_file(path: str, mtime: float, overlay: str | None, overlay_mtime: float) -> dict:
    data = read_yaml(Path(path))
    if overlay:
        data = overlaid(data, read_yaml(Path(overlay)))
    validate_data(data, source_name(path, overlay))
    return data


def source_name(path: str | Path, overlay: str | Path | None = None) -> str:
    """How errors name the params: the file, and the overlay merged over it."""
    return f"{path} + {overlay}" if overlay else str(path)


def _mtime(path: str | Path | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0


def load_file(path: str | Path, overlay: str | Path | None = None) -> dict:
    """The params mapping (with the overlay merged over it), after validating all of it (cached per process)."""
    return _validated_file(str(path), _mtime(path), overlay and str(overlay), _mtime(overlay))


def load_params(path: str | Path, task: str, sections: tuple[str, ...], overrides: list[str] | None = None,
                overlay: str | Path | None = None):
    """The named sections of one task, validated, as attributes (params.train_sft, ...). The whole file is
    validated first, so a typo anywhere stops every stage in a second."""
    data = load_file(path, overlay)
    source = source_name(path, overlay)
    source = f"{source} with --set {' '.join(overrides)}" if overrides else source
    every = task_sections(apply_overrides(data, task, overrides or []), task, source)
    return SimpleNamespace(**{name: every[name] for name in sections})


def validate_all(path: str | Path = "params.yaml") -> dict:
    return load_file(path)
