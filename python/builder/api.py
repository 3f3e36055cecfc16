"""The Python API for your own models: `builder.export(...)`, and the `--from SPEC` loader the CLI uses.

    import builder
    model = builder.UserModel(net, inputs=[builder.TensorSpec("image", "float32", ("batch", 3, 64, 64))])
    builder.export(model, out="models")   # every format torch reaches, checked, with a manifest

See docs/your-model.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from builder.user_model import UserModel


class SpecError(ValueError):
    """A `--from SPEC` that names nothing usable: one line, exit 2."""


def export(
    models: UserModel | str | Sequence[UserModel | str],
    out: str | Path = "models",
    formats: Sequence[str] | None = None,
    seed: int = 0,
    *,
    strict: bool = False,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> Path:
    """Exports user models (and built-in model ids, which are trained first) into `out`, atomically:
    every format each model reaches, golden sets, the op deny-list and manifest.json, each artifact
    reloaded and checked against the model's own outputs. Returns the manifest's path.

    Raises ValueError for a bad selection and builder.pipeline.ExportError when an artifact fails
    (the previous contents of `out` are then unchanged)."""
    from builder import tf_env

    tf_env.set_before_import()
    from builder import pipeline, ui
    from builder.config import ExportConfig
    from builder.formats import FORMATS, artifact_cache

    items = [models] if isinstance(models, (UserModel, str)) else list(models)
    for item in items:
        if not isinstance(item, (UserModel, str)):
            raise TypeError(
                f"export() takes builder.UserModel objects or built-in model ids, got {type(item).__name__}"
            )
    cfg = ExportConfig(
        out=Path(out),
        models=tuple(m for m in items if isinstance(m, str)),
        user_models=tuple(m for m in items if isinstance(m, UserModel)),
        formats=tuple(formats or FORMATS),
        seed=seed,
        strict=strict,
        cache_dir=Path(cache_dir) if cache_dir is not None else artifact_cache.default_root(),
    )
    if not progress:
        path, _ = pipeline.run(cfg)
        return path
    from rich.console import Console

    console = Console(file=sys.stderr)
    with ui.RichReporter(console) as reporter:
        path, rows = pipeline.run(cfg, reporter)
    console.print(ui.summary_table(rows, ui.skipped_from(path)))
    return path


def load(spec: str) -> list[UserModel]:
    """Calls the factory `path/to/file.py:function` or `package.module:function` (no arguments) and
    returns the UserModels it gives (one, or a list)."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise SpecError(f"--from {spec!r}: expected path/to/file.py:function or package.module:function")
    module = _import(spec, target)
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        raise SpecError(f"--from {spec!r}: {target} has no function {name!r}")
    try:
        result = factory()
    except Exception as e:
        raise SpecError(f"--from {spec!r}: {name}() raised {type(e).__name__}: {e}") from e
    found = result if isinstance(result, (list, tuple)) else [result]
    wrong = [type(r).__name__ for r in found if not isinstance(r, UserModel)]
    if wrong or not found:
        raise SpecError(
            f"--from {spec!r}: {name}() must return a builder.UserModel or a list of them, got "
            f"{wrong[0] if wrong else 'an empty list'}"
        )
    return list(found)


def _import(spec: str, target: str):
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise SpecError(f"--from {spec!r}: no such file {path}")
        module_name = f"deploykit_user_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecError(f"--from {spec!r}: {path} is not a Python file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.resolve().parent))  # its own helper modules import as in a script
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:
            raise SpecError(f"--from {spec!r}: importing {path} raised {type(e).__name__}: {e}") from e
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise SpecError(f"--from {spec!r}: no module {target!r} ({e})") from e
    except Exception as e:
        raise SpecError(f"--from {spec!r}: importing {target} raised {type(e).__name__}: {e}") from e
