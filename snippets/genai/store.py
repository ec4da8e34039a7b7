"""The course's trained models in one place: shipped references, a cache, retraining.

Every model that a page, notebook, figure or app reads (the facts and
stories GPTs, the in-context learner, the digits diffusion model) is made by
a *recipe*: a configuration, the code that trains it, and the quality it
must reach. The repository ships each one as a *reference* that the
course's own code trained: ``references/<name>.safetensors`` (beside this
module) holds the weights (no pickle) and what rebuilding the model needs
(a tokenizer, the loss history); ``references/manifest.json`` holds each
one's manifest (configuration, seed, code hash, versions, CPU, training
time, final losses, quality figures, and the file's size and sha256). A
retraining that gives the same weights gives the same file, byte for byte.

``load(name)`` gives the model, from the first of:

1. the shipped reference, when its code hash is today's: every page prints
   what this one model says, so the numbers are the same on every machine;
2. a model this machine trained for today's code, in ~/.cache/genai-course/
   (or $COURSE_CACHE);
3. a training, now, once: a lock keeps two processes from training the same
   model, an interrupted training resumes from its checkpoint, and the file
   is written atomically.

The code hash covers the configuration and the code of the modules that
train the model, comments and docstrings excepted: edit the code, and the
reference is stale until someone retrains it.

    python -m genai.store                    # every model: current or stale
    python -m genai.store retrain facts      # train anew, rewrite the reference
    python -m genai.store retrain --all      # then: tests/refresh_outputs.py
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import os
import platform
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from genai.checkpoint import CheckpointError
from genai.cli import OneLineParser
from genai.device import get_device, one_thread

PACKAGE = Path(__file__).resolve().parent
REFERENCES = PACKAGE / "references"
CACHE = Path(os.environ.get("COURSE_CACHE") or
             Path.home() / ".cache" / "genai-course")
FORMAT = 1

# name -> "module:attribute" of its Recipe (imported only when asked for),
# or the Recipe itself
RECIPES = {
    "facts": "genai.llm.pretrained:FACTS",
    "stories": "genai.llm.pretrained:STORIES",
    "icl": "genai.llm.in_context:RECIPE",
    "digits": "genai.diffusion.digits:RECIPE",
    "buildup": "genai.llm.buildup:RECIPE",
    "assistant": "genai.llm.instruct:RECIPE",
    "dpo": "genai.llm.preference:RECIPE",
    "lora": "genai.llm.lora:RECIPE",
}


class StoreError(RuntimeError):
    """A model file that cannot be used, or a name the store does not know."""


@dataclass(frozen=True)
class Recipe:
    """How one model is trained, saved, rebuilt and judged.

    train(config, checkpoint, log) -> the trained object (resuming from
        checkpoint, a file path, where the training supports it);
    save(obj) -> (tensors, data): the weights, and JSON data (tokenizer,
        loss history) needed to rebuild it; nothing that differs between two
        runs of the same training (times), so the same weights give the
        same file;
    build(config, tensors, data, device) -> the object again; data also
        holds "seconds" and "cpu_seconds", the training's times from the
        manifest;
    losses(obj) and quality(obj) -> {name: number}, kept in the manifest;
    bars(quality, reference) -> what falls short, comparing a retrained
        model's figures with the shipped reference's: bars that hold on any
        CPU, never exact floats.
    """
    name: str
    about: str
    config: Any                       # a frozen dataclass
    sources: tuple[str, ...]          # modules whose code trains it, "llm.gpt"
    train: Callable
    save: Callable
    build: Callable
    losses: Callable
    quality: Callable
    bars: Callable


def recipe(name: str) -> Recipe:
    """The recipe of a model, by name."""
    if name not in RECIPES:
        raise StoreError(f"no model named {name!r}: the store has "
                         f"{', '.join(sorted(RECIPES))}")
    if isinstance(RECIPES[name], Recipe):
        return RECIPES[name]
    module, _, attribute = RECIPES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


# ---------------------------------------------------------------------------
# The code hash
# ---------------------------------------------------------------------------
def code_text(path: Path) -> str:
    """A module's code without comments, docstrings and blank lines.

    Built from positions in the source rather than ast.dump, whose output
    changes between Python versions: the hash must not.
    """
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    cut: dict[int, list[tuple[int, int]]] = {}   # line -> [(start, end)]

    def blank(start, end):   # (row, column) in characters, end exclusive
        (r0, c0), (r1, c1) = start, end
        for row in range(r0, r1 + 1):
            cut.setdefault(row, []).append(
                (c0 if row == r0 else 0,
                 c1 if row == r1 else len(lines[row - 1])))

    def chars(row, byte_col):   # ast columns count UTF-8 bytes
        return len(lines[row - 1].encode("utf-8")[:byte_col].decode("utf-8"))

    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(
                getattr(first.value, "value", None), str):
            blank((first.lineno, chars(first.lineno, first.col_offset)),
                  (first.end_lineno,
                   chars(first.end_lineno, first.end_col_offset)))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            blank(token.start, token.end)
    kept = []
    for row, line in enumerate(lines, 1):
        for start, end in sorted(cut.get(row, []), reverse=True):
            line = line[:start] + " " * (end - start) + line[end:]
        if line.strip():
            kept.append(line.rstrip())
    return "\n".join(kept) + "\n"


def code_hash(recipe: Recipe, config=None) -> str:
    """sha256 of the configuration and the code that trains the model."""
    config = recipe.config if config is None else config
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config),
                                       sort_keys=True).encode())
    for module in recipe.sources:   # "llm.gpt": snippets/genai/llm/gpt.py
        digest.update(code_text(PACKAGE.joinpath(*module.split("."))
                                .with_suffix(".py")).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Files: safetensors with the manifest in the header, written atomically
# ---------------------------------------------------------------------------
def write_model(path: Path, tensors: dict, data: dict,
                manifest: dict | None = None) -> Path:
    """Weights and JSON metadata in one safetensors file, atomically.

    Tensors that share memory (tied weights) are stored once; the header
    lists the other names (aliases) so reading restores them. A manifest,
    if given, goes in the header too (cached models: one file says all);
    references keep theirs in references/manifest.json instead, so that the
    file depends on the weights alone.
    """
    from safetensors.torch import save

    unique, aliases, seen = {}, {}, {}
    for key, tensor in tensors.items():
        pointer = (tensor.data_ptr(), tuple(tensor.shape), tensor.dtype)
        if pointer in seen:
            aliases[key] = seen[pointer]
        else:
            seen[pointer] = key
            unique[key] = tensor.detach().cpu().contiguous()
    header = {"format": FORMAT, "data": data, "aliases": aliases}
    if manifest is not None:
        header["manifest"] = manifest
    # one metadata key: safetensors writes several in no fixed order
    blob = save(unique, metadata={"genai": json.dumps(header, sort_keys=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent,
                                       prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())    # on disk before the rename
        os.replace(partial, path)     # atomic: the old file or the new one
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def read_model(path: Path) -> tuple[dict, dict | None, dict]:
    """(tensors, manifest or None, data) of a file that write_model wrote."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        blob = Path(path).read_bytes()
        tensors = load(blob)
        header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
        meta = json.loads(header["__metadata__"]["genai"])
        version, data, aliases = meta["format"], meta["data"], meta["aliases"]
        manifest = meta.get("manifest")
    except FileNotFoundError:
        raise StoreError(f"no model file at {path}") from None
    except (SafetensorError, ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path} is not a model file of the course's "
                         f"store ({type(error).__name__}: {error})") from None
    if version != FORMAT:
        raise StoreError(f"{path}: format {version!r}, expected {FORMAT}")
    for key, original in aliases.items():
        tensors[key] = tensors[original]
    return tensors, manifest, data


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on path while the block runs; another process
    asking for the same lock waits (filelock: Linux, macOS and Windows)."""
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path)):
        yield


def train_model(name: str, config=None, checkpoint: Path | None = None,
                log=print) -> tuple[Any, dict, dict, dict]:
    """Train a model from scratch (or resume from checkpoint) on the CPU,
    on one thread. Returns (model object, tensors, manifest, data)."""
    recipe_ = recipe(name)
    config = recipe_.config if config is None else config
    clock = time.perf_counter(), time.process_time()
    # one CPU thread: for models this small a second thread saves little,
    # and a busy machine makes it much slower
    with one_thread():
        obj = recipe_.train(config, checkpoint, log)
    seconds = time.perf_counter() - clock[0]
    cpu_seconds = time.process_time() - clock[1]
    tensors, data = recipe_.save(obj)
    manifest = {
        "format": FORMAT, "name": name, "about": recipe_.about,
        "config": dataclasses.asdict(config), "seed": config.seed,
        "code_hash": code_hash(recipe_, config),
        "sources": [f"genai.{module}" for module in recipe_.sources],
        "parameters": sum({t.data_ptr(): t.numel()
                           for t in tensors.values()}.values()),
        "trained_with": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(), "system": platform.system(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": 1},
        # a resumed training counts only the time since it resumed
        "train_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "losses": _rounded(recipe_.losses(obj)),
        "quality": _rounded(recipe_.quality(obj)),
    }
    return obj, tensors, manifest, data


def _rounded(figures: dict) -> dict:
    return {key: round(value, 4) if isinstance(value, float) else value
            for key, value in figures.items()}


def cache_path(name: str, digest: str) -> Path:
    return CACHE / f"{name}-{digest[:12]}.safetensors"


def reference_path(name: str) -> Path:
    return REFERENCES / f"{name}.safetensors"


def load(name: str, config=None, device=None, log=None,
         reference: bool = True):
    """The model `name` (see the module's docstring for where it comes
    from), on device (default: genai.device.get_device()).

    config: another configuration than the recipe's (trained and cached on
    this machine). reference=False: ignore the shipped reference.
    """
    log = log or (lambda text: print(text, file=sys.stderr))
    recipe_ = recipe(name)
    config = recipe_.config if config is None else config
    digest = code_hash(recipe_, config)
    device = device or get_device()
    why = []    # why the reference, then the cache, could not be used
    if reference and config == recipe_.config:
        found = _usable_reference(name, digest, why)
        if found is not None:
            return _build(recipe_, config, found, device)
    path = cache_path(name, digest)
    found = _usable(path, digest, "the cached model", why)
    if found is None:
        with file_lock(path.with_suffix(".lock")):
            found = _usable(path, digest, "", [])
            if found is None:   # not trained by another process meanwhile
                for reason in why:
                    log(reason)
                log(f"training the {name!r} model on this machine, once; "
                    f"it is kept in {path}")
                partial = path.with_suffix(".partial.pt")   # resumable
                try:
                    _, tensors, manifest, data = train_model(
                        name, config, partial, log=lambda text: None)
                except CheckpointError as error:   # cannot resume: restart
                    log(f"the interrupted training cannot be resumed "
                        f"({str(error).splitlines()[0]}); starting again")
                    partial.unlink(missing_ok=True)
                    _, tensors, manifest, data = train_model(
                        name, config, partial, log=lambda text: None)
                write_model(path, tensors, data, manifest)
                partial.unlink(missing_ok=True)
                found = tensors, manifest, data
    return _build(recipe_, config, found, device)


def _build(recipe_: Recipe, config, found, device):
    tensors, manifest, data = found
    times = {"seconds": manifest.get("train_seconds", 0.0),
             "cpu_seconds": manifest.get("cpu_seconds", 0.0)}
    return recipe_.build(config, tensors, {**data, **times}, device)


def _stale(what: str, manifest: dict, digest: str) -> str:
    return (f"{what} was trained by other code (code hash "
            f"{str(manifest.get('code_hash'))[:12]}, today's {digest[:12]}). "
            f"To update the reference: python -m genai.store retrain "
            f"{manifest.get('name', '')}")


def _usable_reference(name: str, digest: str, why: list):
    """(tensors, manifest, data) of the shipped reference if it is the
    model of today's code; otherwise None, and the reason appended to why."""
    what = f"the shipped reference of {name!r}"
    manifest = manifest_index().get(name)
    path = reference_path(name)
    if manifest is None or not path.is_file():
        why.append(f"{what} is missing ({path})")
        return None
    if manifest.get("code_hash") != digest:
        why.append(_stale(what, manifest, digest))
        return None
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        why.append(f"{what} is not the file its manifest describes (sha256 "
                   f"differs: a Git LFS pointer, or a broken checkout?)")
        return None
    try:
        tensors, _, data = read_model(path)
    except StoreError as error:
        why.append(f"{what} is unusable: {error}")
        return None
    return tensors, manifest, data


def _usable(path: Path, digest: str, what: str, why: list):
    """(tensors, manifest, data) of a cached model if it is the model of
    today's code; otherwise None, and the reason appended to why."""
    if not path.is_file():
        return None
    try:
        tensors, manifest, data = read_model(path)
    except StoreError as error:
        why.append(f"{what} is unusable: {error}")
        return None
    if not manifest or manifest.get("code_hash") != digest:
        why.append(_stale(what, manifest or {}, digest))
        return None
    return tensors, manifest, data


# ---------------------------------------------------------------------------
# References: status and retraining
# ---------------------------------------------------------------------------
def manifest_index() -> dict:
    """references/manifest.json: every reference's manifest, file size and
    sha256, for people and reviews (loading reads the files' own headers)."""
    path = REFERENCES / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() \
        else {}


def retrain(names: list[str], log=print) -> dict:
    """Train each named model from scratch, check its quality bars against
    the old reference (if any), and write the new reference."""
    index = manifest_index()
    for name in names:
        old = index.get(name, {}).get("quality")
        log(f"{name}: training from scratch ...")
        with tempfile.TemporaryDirectory() as folder:
            _, tensors, manifest, data = train_model(
                name, checkpoint=Path(folder) / "partial.pt",
                log=lambda text: None)
        failures = recipe(name).bars(manifest["quality"], old or
                                     manifest["quality"])
        for failure in failures:
            log(f"  warning: {failure}")
        path = write_model(reference_path(name), tensors, data)
        index[name] = {**manifest, "file": path.name,
                       "bytes": path.stat().st_size,
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        log(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB, "
            f"{manifest['cpu_seconds']} s CPU; losses {manifest['losses']}; "
            f"quality {manifest['quality']}")
        # now, not at the end: a model trained from this one (dpo from
        # assistant) must find it current
        index = dict(sorted(index.items()))
        (REFERENCES / "manifest.json").write_text(
            json.dumps(index, indent=2, sort_keys=True) + "\n",
            encoding="utf-8")
    log("Now refresh the pages' outputs: python tests/refresh_outputs.py "
        "docs/*/*.md, and read git diff docs/")
    return index


def status() -> list[dict]:
    """One row per model: its reference, current or stale."""
    rows, index = [], manifest_index()
    for name in sorted(RECIPES):
        digest = code_hash(recipe(name))
        why: list[str] = []
        found = _usable_reference(name, digest, why)
        state = "current" if found is not None else (
            "stale: retrain it" if "other code" in why[0] else why[0])
        path = reference_path(name)
        rows.append({"name": name, "state": state,
                     "bytes": path.stat().st_size if path.is_file() else 0,
                     "quality": index.get(name, {}).get("quality", {})})
    return rows


def main(argv=None) -> int:
    parser = OneLineParser(
        prog="python -m genai.store",
        description="The course's trained models. No command: list them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m genai.store\n"
               "  python -m genai.store retrain facts stories\n"
               "  python -m genai.store retrain --all")
    commands = parser.add_subparsers(dest="command")
    again = commands.add_parser("retrain", help="train from scratch and "
                                "rewrite the shipped reference")
    again.add_argument("names", nargs="*", help=", ".join(sorted(RECIPES)))
    again.add_argument("--all", action="store_true", help="every model")
    args = parser.parse_args(argv)
    if args.command == "retrain":
        names = sorted(RECIPES) if args.all else args.names
        unknown = sorted(set(names) - set(RECIPES))
        if not names or unknown:
            parser.error(f"name models to retrain ({', '.join(sorted(RECIPES))})"
                         f" or use --all" + (f"; unknown: {unknown}"
                                             if unknown else ""))
        retrain(names)
        return 0
    total = 0
    for row in status():
        total += row["bytes"]
        print(f"{row['name']:8s} {row['bytes'] / 1e6:5.2f} MB  {row['state']}"
              f"  {row['quality']}")
    print(f"{total / 1e6:.2f} MB of references in {REFERENCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
