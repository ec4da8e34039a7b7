"""The course's trained models in one place: shipped references, a cache, retraining.

Every model that a page, notebook, figure or app reads is made by a
*recipe* (the RECIPES below: the facts and stories GPTs, the in-context
learner, the digits diffusion model, the GPT build-up's stages, and the
assistant, DPO and LoRA models tuned from the facts GPT, and the adders of
the reasoning pages, one tuned from another by reinforcement learning): a configuration,
the code that trains it, the quality it must reach, and the models it is
tuned from (its *bases*). The repository ships each one as a *reference*
that the course's own code trained: ``references/<name>.safetensors``
(beside this module) holds the weights (no pickle) and what rebuilding the
model needs (a tokenizer, the loss history); ``references/manifest.json``
holds each one's manifest (configuration, seed, code hash, versions, CPU,
training time, final losses, quality figures, the sha256 of the base
weights it was tuned from, and the file's size and sha256). A retraining
that gives the same weights gives the same file, byte for byte.

``load(name)`` gives the model, from the first of:

1. the shipped reference, when its code hash is today's: every page prints
   what this one model says, so the numbers are the same on every machine;
2. a model this machine trained for today's code, in ~/.cache/genai-course/
   (or $COURSE_CACHE);
3. a training, now, once: a lock keeps two processes from training the same
   model, an interrupted training resumes from its checkpoint, and the file
   is written atomically.

The code hash covers the configuration, the code that a training reaches
from the recipe's train and save functions (training_code: comments,
docstrings, evaluation, command lines and ``__main__`` blocks excepted),
and the code hashes of its bases: edit the training, or a base's, and the
reference is stale until someone retrains it. A reference tuned from other
base weights than today's is refused (StoreError) until it is retrained.

    python -m genai.store                    # every model: current or stale
    python -m genai.store retrain facts      # train anew, rewrite the reference
    python -m genai.store retrain facts --with-derived   # and what is tuned from it
    python -m genai.store retrain --all      # bases first; then: tests/refresh_outputs.py
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
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
    "adder-direct": "genai.reasoning.adder:DIRECT",
    "adder-scratchpad": "genai.reasoning.adder:SCRATCHPAD",
    "adder-sft": "genai.reasoning.adder:SFT",
    "adder-grpo": "genai.reasoning.adder:RL",
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
    bars: the quality bars (Bar) that a retrained model must meet, on any
        CPU: never exact floats;
    bases: the models it is tuned from (which train loads from the store);
        a configuration with a field "base" names its own.

    train and save are top-level functions: the code hash follows what they
    call (training_code).
    """
    name: str
    about: str
    config: Any                       # a frozen dataclass
    train: Callable
    save: Callable
    build: Callable
    losses: Callable
    quality: Callable
    bars: tuple["Bar", ...]
    bases: tuple[str, ...] = ()

    def bases_of(self, config=None) -> tuple[str, ...]:
        config = self.config if config is None else config
        return (config.base,) if "base" in {f.name for f in dataclasses.fields(config)} \
            else self.bases


@dataclass(frozen=True)
class Bar:
    """One quality bar: the figure quality[key], compared (op: ">=", "<=",
    "==", or "within": at most threshold away) with a target. The target is
    threshold itself, or, with against=, another figure plus threshold:
    against="reference": the same figure of this model's shipped reference;
    against="<model>": that reference's figure (of=: another key);
    against="quality": this model's own figure of=."""
    key: str
    op: str
    threshold: float
    against: str | None = None
    of: str | None = None
    why: str = ""

    def _other(self, quality: dict, references: dict, name: str):
        """The figure compared with (None: the threshold alone)."""
        if self.against is None:
            return None
        if self.against == "quality":
            return quality[self.of]
        model = name if self.against == "reference" else self.against
        return references[model][self.of or self.key]

    def shortfall(self, quality: dict, references: dict, name: str) -> str | None:
        """What falls short, in words, or None."""
        value, other = quality[self.key], self._other(quality, references, name)
        if self.op == "within":
            ok = abs(value - other) <= self.threshold
            wanted = f"within {self.threshold:g} of {other:.4g}"
        else:
            target = self.threshold if other is None else other + self.threshold
            ok = {">=": value >= target, "<=": value <= target, "==": value == target}[self.op]
            wanted = f"{self.op} {target:.4g}" if not isinstance(target, bool) else f"{target}"
        if ok:
            return None
        shown = f"{value:.4g}" if isinstance(value, float) else f"{value}"
        return f"{self.key} {shown}, the bar is {wanted}" + (f" ({self.why})" if self.why else "")


def qualities(index: dict) -> dict:
    """{model: its quality figures} of a manifest index."""
    return {name: entry.get("quality", {}) for name, entry in index.items()}


def shortfalls(name: str, quality: dict, references: dict | None = None) -> list[str]:
    """The bars of model name that quality falls short of. references:
    {model: quality figures} of the shipped references (by default
    manifest.json's), which relative bars compare with."""
    if references is None:
        references = qualities(manifest_index())
    return [failure for bar in recipe(name).bars
            if (failure := bar.shortfall(quality, references, name)) is not None]


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
def code_text(path: Path, lines: set[int] | None = None) -> str:
    """A module's code (or only the given lines of it) without comments,
    docstrings and blank lines.

    Built from positions in the source rather than ast.dump, whose output
    changes between Python versions: the hash must not.
    """
    rows = _stripped_rows(*_stamp(path))
    kept = [line for row, line in enumerate(rows, 1)
            if line and (lines is None or row in lines)]
    return "\n".join(kept) + "\n"


def _stamp(path: Path) -> tuple[str, int, int]:
    """(path, mtime, size): the key of what the caches below read from it."""
    stat = Path(path).stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=128)
def _stripped_rows(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Each line of the file, comments and docstrings blanked, right-stripped."""
    source = Path(path).read_text(encoding="utf-8")
    rows = source.splitlines()
    cut: dict[int, list[tuple[int, int]]] = {}   # line -> [(start, end)]

    def blank(start, end):   # (row, column) in characters, end exclusive
        (r0, c0), (r1, c1) = start, end
        for row in range(r0, r1 + 1):
            cut.setdefault(row, []).append(
                (c0 if row == r0 else 0,
                 c1 if row == r1 else len(rows[row - 1])))

    def chars(row, byte_col):   # ast columns count UTF-8 bytes
        return len(rows[row - 1].encode("utf-8")[:byte_col].decode("utf-8"))

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
    stripped = []
    for row, line in enumerate(rows, 1):
        for start, end in sorted(cut.get(row, []), reverse=True):
            line = line[:start] + " " * (end - start) + line[end:]
        stripped.append(line.rstrip() if line.strip() else "")
    return tuple(stripped)


# Modules of the package that hold no model's code: how models are stored,
# run and resumed, not what they compute
NOT_MODEL_CODE = {"genai.store", "genai.cli", "genai.device", "genai.checkpoint"}


def _module(name: str) -> "_Module":
    """The parsed module (cached while its file is unchanged)."""
    path = PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py")
    if not path.is_file():     # a package: its __init__.py
        path = path.with_suffix("") / "__init__.py"
    return _parsed(name, *_stamp(path))


@functools.lru_cache(maxsize=128)
def _parsed(name: str, path: str, mtime_ns: int, size: int) -> "_Module":
    return _Module(name, Path(path))


class _Module:
    """A module's top-level statements, by the names they define, and the
    names it imports from the package."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self.defines: dict[str, list[ast.stmt]] = {}
        self.imports: dict[str, tuple[str, str | None]] = {}  # alias -> (module, name)
        for node in self._statements(ast.parse(self.path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = (alias.name, None)
            for target in _defined_names(node):
                self.defines.setdefault(target, []).append(node)

    @staticmethod
    def _statements(body):
        """Top-level statements, and those inside a top-level if or try."""
        for node in body:
            if isinstance(node, ast.If) and not _is_main_block(node):
                yield from _Module._statements(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                yield from _Module._statements(
                    node.body + node.orelse + node.finalbody
                    + [n for handler in node.handlers for n in handler.body])
            else:
                yield node


def _is_main_block(node) -> bool:
    return "__name__" in {n.id for n in ast.walk(node.test)
                          if isinstance(n, ast.Name)}


def _defined_names(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    return [n.id for target in targets for n in ast.walk(target)
            if isinstance(n, ast.Name)]


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _is_model_code(module: str) -> bool:
    return module.startswith("genai.") and module not in NOT_MODEL_CODE


def training_code(model: Recipe) -> dict[str, set[int]]:
    """{module: the line numbers of its code that train and save the
    model}: the recipe's train and save functions and its configuration's
    class (and its bases' build and configuration classes), and everything
    in the package that they name, and that names, in turn (functions, classes,
    constants, through imports), outside NOT_MODEL_CODE. What a training
    never reaches (evaluation, figures, command lines, the pages'
    cross-checks with other libraries, `if __name__ == "__main__"`) is not
    in it: editing those does not make a reference stale."""
    modules: dict[str, _Module] = {}
    lines: dict[str, set[int]] = {}
    # what trains and saves it, its configuration's class (a method may
    # shape the model), and how the models it is tuned from, and theirs,
    # are read back and configured
    functions = [model.train, model.save, type(model.config)]
    for base in sorted(_all_bases(model.bases)):
        functions += [recipe(base).build, type(recipe(base).config)]
    todo = [(function.__module__, function.__qualname__.split(".")[0])
            for function in functions]
    seen = set()
    while todo:
        module_name, name = todo.pop()
        if (module_name, name) in seen or not _is_model_code(module_name):
            continue
        seen.add((module_name, name))
        if module_name not in modules:
            modules[module_name] = _module(module_name)
        module = modules[module_name]
        if name in module.imports and name not in module.defines:
            source, imported = module.imports[name]
            if imported is not None:         # from genai.x import name
                submodule = f"{source}.{imported}"
                todo.append((submodule, "*") if _is_module(submodule)
                            else (source, imported))
            continue
        if name == "*":                     # a module named in full: its attributes
            continue
        for node in module.defines.get(name, []):
            first = min([node.lineno] + [d.lineno for d in
                                         getattr(node, "decorator_list", [])])
            lines.setdefault(module_name, set()).update(
                range(first, node.end_lineno + 1))
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name):
                    todo.append((module_name, inner.id))
                elif isinstance(inner, ast.Attribute) and \
                        isinstance(inner.value, ast.Name):
                    target = module.imports.get(inner.value.id)
                    if target is not None:   # module.attribute
                        source = target[0] if target[1] is None \
                            else f"{target[0]}.{target[1]}"
                        if _is_module(source):
                            todo.append((source, inner.attr))
    return {name: lines[name] for name in sorted(lines)}


def code_hash(model: Recipe, config=None) -> str:
    """sha256 of the configuration, the code that trains and saves the
    model (training_code), and the code hashes of the models it is tuned
    from: change a base's code, and every model built on it is stale too."""
    config = model.config if config is None else config
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config),
                                       sort_keys=True).encode())
    for module, lines in training_code(model).items():
        digest.update(module.encode())
        digest.update(code_text(_module(module).path, lines).encode())
    for base in model.bases_of(config):
        digest.update(f"{base}:{code_hash(recipe(base))}".encode())
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
    if manifest is not None:   # a cached model: a checksum of its weights too
        header["manifest"] = {**manifest, "weights_sha256": weights_digest(tensors)}
    # one metadata key: safetensors writes several in no fixed order
    blob = save(unique, metadata={"genai": json.dumps(header, sort_keys=True)})
    return write_atomically(path, blob)


def write_atomically(path: Path, blob: bytes) -> Path:
    """Write blob to path through a temporary file in the same folder,
    renamed over path once complete: a reader sees the old file or the new."""
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


def weights_digest(tensors: dict) -> str:
    """sha256 of the tensors' names, shapes, types and bytes."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key} {tuple(tensor.shape)} {tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


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
        "sources": list(training_code(recipe_)),
        # the weights it was tuned from: the file that load(base) used
        "bases": {base: weights_sha256(base) for base in recipe_.bases_of(config)},
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
            changed = _changed_bases(found[1])
            if changed:     # a base retrained, this model not: never mix them
                raise StoreError(_base_changed(f"the shipped reference of {name!r}",
                                               changed, name))
            return _build(recipe_, config, found, device,
                          f"the shipped reference of {name!r}")
    path = cache_path(name, digest)
    found = _usable(path, digest, "the cached model", why)
    if found is None:
        with _cache_lock(path):
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
                try:
                    write_model(path, tensors, data, manifest)
                except OSError as error:
                    raise StoreError(_unwritable(error)) from None
                partial.unlink(missing_ok=True)
                found = tensors, manifest, data
    return _build(recipe_, config, found, device, f"the model at {path}")


@contextlib.contextmanager
def _cache_lock(path: Path):
    """The cache's lock for path, or a StoreError that says what to do when
    the cache folder cannot be written (a file, under a file, read-only)."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(path.with_suffix(".lock")))
        except OSError as error:
            raise StoreError(_unwritable(error)) from None
        yield


def _unwritable(error: OSError) -> str:
    return (f"cannot keep a trained model in {CACHE} "
            f"({error.strerror or type(error).__name__}): set COURSE_CACHE to a "
            f"folder you can write, or make {CACHE} one")


def _build(recipe_: Recipe, config, found, device, what: str):
    tensors, manifest, data = found
    times = {"seconds": manifest.get("train_seconds", 0.0),
             "cpu_seconds": manifest.get("cpu_seconds", 0.0)}
    try:
        return recipe_.build(config, tensors, {**data, **times}, device)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        if isinstance(error, StoreError):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise StoreError(f"{what} does not fit the {recipe_.name!r} model "
                         f"({type(error).__name__}: {first[:200]}): another "
                         f"model's file? Retrain it: python -m genai.store "
                         f"retrain {recipe_.name}") from None


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
    index_path = REFERENCES / "manifest.json"
    if path.is_file() and not index_path.is_file():
        why.append(f"{index_path} is missing, so {what} cannot be checked: "
                   f"restore it with git checkout -- {index_path}")
        return None
    if manifest is None or not path.is_file():
        why.append(f"{what} is missing ({path if manifest else f'no entry in {index_path}'})")
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
    today's code, tuned from today's bases; otherwise None, and the reason
    appended to why."""
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
    if manifest.get("weights_sha256") != weights_digest(tensors):
        why.append(f"{what} is damaged (its weights do not match their checksum)")
        return None
    changed = _changed_bases(manifest)
    if changed:
        why.append(f"{what} was tuned from other weights of "
                   f"{', '.join(map(repr, changed))} than this machine's")
        return None
    return tensors, manifest, data


def weights_sha256(name: str) -> str | None:
    """The sha256 of the file that load(name) uses now (the recipe's
    configuration): the shipped reference when it is current, else this
    machine's cached model; None when neither is there yet."""
    recipe_ = recipe(name)
    digest = code_hash(recipe_)
    manifest = manifest_index().get(name) or {}
    path = reference_path(name)
    if manifest.get("code_hash") == digest and path.is_file():
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if sha == manifest.get("sha256"):
            return sha
    path = cache_path(name, digest)
    if _usable(path, digest, "", []) is not None:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def _changed_bases(manifest: dict) -> list[str]:
    """The bases whose weights are not the ones this model was tuned from
    (the manifest's "bases": name -> sha256)."""
    bases = manifest.get("bases")
    if manifest.get("name") in RECIPES and bases is None:
        bases = {base: None for base in recipe(manifest["name"]).bases}
    return [base for base, sha in sorted((bases or {}).items())
            if sha is None or weights_sha256(base) != sha]


def _base_changed(what: str, changed: list[str], name: str) -> str:
    return (f"{what} was tuned from other weights of "
            f"{', '.join(map(repr, changed))} than the ones this machine uses "
            f"(retrained since?): it must be tuned again from them. Run: "
            f"python -m genai.store retrain {name}")


# ---------------------------------------------------------------------------
# References: status and retraining
# ---------------------------------------------------------------------------
def manifest_index() -> dict:
    """references/manifest.json: every reference's manifest, file size and
    sha256 ({} when the file is missing). A damaged one is a StoreError that
    says how to restore it."""
    path = REFERENCES / "manifest.json"
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        problem = "not UTF-8"
    except json.JSONDecodeError as error:
        problem = f"not JSON: {error.msg} at line {error.lineno}"
    else:
        wrong = [name for name, entry in index.items() if not isinstance(entry, dict)] \
            if isinstance(index, dict) else None
        if wrong is None:
            problem = f"not an object of models but {type(index).__name__}"
        elif wrong:
            problem = f"the entry of {wrong[0]!r} is not an object"
        else:
            return index
    raise StoreError(f"{path} is damaged ({problem}): restore it with git "
                     f"checkout -- {path}, or retrain every model: python -m "
                     f"genai.store retrain --all")


def derived(name: str) -> list[str]:
    """Every model tuned from name, directly or not, in training order."""
    return in_training_order([other for other in RECIPES
                              if name in _all_bases(recipe(other).bases)])


def in_training_order(names) -> list[str]:
    """names, each after the models it is tuned from (then by name)."""
    ordered: list[str] = []

    def visit(name, path=()):
        if name in path:
            raise StoreError(f"the models are tuned from each other in a "
                             f"circle: {' -> '.join(path + (name,))}")
        for base in recipe(name).bases:
            if base in names:
                visit(base, path + (name,))
        if name not in ordered:
            ordered.append(name)

    for name in sorted(set(names)):
        visit(name)
    return ordered


def retrain(names: list[str], log=print) -> dict:
    """Train each named model from scratch, bases first, check its quality
    bars against the old reference (if any), and write the new reference.
    A model is tuned only from current references: a base that is stale
    and not retrained in the same call stops it before any training."""
    names = in_training_order(names)
    for name in names:
        for base in recipe(name).bases:
            if base not in names and _usable_reference(base, code_hash(recipe(base)), []) is None:
                raise StoreError(f"{name!r} is tuned from {base!r}, whose reference is "
                                 f"not current: retrain both, python -m genai.store "
                                 f"retrain {base} {name}")
    index = manifest_index()
    for name in names:
        old = index.get(name, {}).get("quality")
        log(f"{name}: training from scratch ...")
        with tempfile.TemporaryDirectory() as folder:
            _, tensors, manifest, data = train_model(
                name, checkpoint=Path(folder) / "partial.pt",
                log=lambda text: None)
        references = {**qualities(index), name: old or manifest["quality"]}
        failures = shortfalls(name, manifest["quality"], references)
        for failure in failures:
            log(f"  warning: {failure}")
        path = write_model(reference_path(name), tensors, data)
        index[name] = {**manifest, "file": path.name,
                       "bytes": path.stat().st_size,
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        log(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB, "
            f"{manifest['cpu_seconds']} s CPU; losses {manifest['losses']}; "
            f"quality {manifest['quality']}")
        # now, not at the end: a model tuned from this one (dpo from
        # assistant) must find it current
        index = dict(sorted(index.items()))
        write_manifest_index(index)
    stale = [name for name in sorted(RECIPES) if name not in names
             and any(base in names for base in _all_bases(recipe(name).bases))]
    if stale:
        log(f"Tuned from a model retrained now, and stale until retrained: "
            f"{', '.join(in_training_order(stale))}. Run: python -m genai.store "
            f"retrain {' '.join(in_training_order(stale))} (or retrain "
            f"{' '.join(names)} --with-derived)")
    log("Now refresh the pages' outputs: python tests/refresh_outputs.py "
        "docs/*/*.md, and read git diff docs/")
    return index


def _all_bases(bases: tuple[str, ...]) -> set[str]:
    """These models and every model they are tuned from, in turn."""
    found = set(bases)
    for base in bases:
        found |= _all_bases(recipe(base).bases)
    return found


def write_manifest_index(index: dict) -> Path:
    """references/manifest.json, atomically: the old file or the new one."""
    return write_atomically(REFERENCES / "manifest.json",
                            (json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def status() -> list[dict]:
    """One row per model: its reference, current or stale."""
    rows, index = [], manifest_index()
    for name in sorted(RECIPES):
        digest = code_hash(recipe(name))
        why: list[str] = []
        found = _usable_reference(name, digest, why)
        state = ("stale: base changed" if _changed_bases(found[1]) else "current") \
            if found is not None else (
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
    again.add_argument("--with-derived", action="store_true",
                       help="and every model tuned from them")
    args = parser.parse_args(argv)
    if args.command == "retrain":
        names = sorted(RECIPES) if args.all else args.names
        unknown = sorted(set(names) - set(RECIPES))
        if not names or unknown:
            parser.error(f"name models to retrain ({', '.join(sorted(RECIPES))})"
                         f" or use --all" + (f"; unknown: {unknown}"
                                             if unknown else ""))
        if args.with_derived:
            names = sorted(set(names).union(*(derived(name) for name in names)))
        try:
            retrain(names)
        except StoreError as error:
            print(f"python -m genai.store: error: {error}", file=sys.stderr)
            return 2
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
