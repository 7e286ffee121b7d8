"""The ``jaxgd`` command line: reproduce the experiments, sweep hyperparameters, analyse a problem.

    jaxgd reproduce [NAME ...] [--out DIR] [--small] [--list]
    jaxgd sweep --problem P --optimizer O --param NAME=SPEC [--param ...] [--steps N] [--out DIR]
    jaxgd analyze PROBLEM [--json FILE]
    jaxgd list

Errors in the arguments (an unknown problem, optimizer, hyperparameter or
experiment, a malformed or out-of-range value, an output path that cannot be
written) print one line naming the valid choices and exit with status 2.
JSON output is strict: a non-finite number is written as null.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import importlib.resources
import importlib.util
import inspect
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jaxgd import files

__all__ = [
    "add_experiment_options",
    "available_experiments",
    "build_parser",
    "experiment_summary",
    "experiments_dir",
    "json_text",
    "jsonable",
    "main",
    "parse_param",
    "write_index",
]

USAGE_ERROR = 2

EPILOG_SWEEP = """\
range syntax for --param NAME=SPEC:
  0.1,0.2,0.5          a list of values
  log:1e-4:1e-1:20     20 values spaced evenly in log between 1e-4 and 1e-1
  lin:0:0.99:12        12 values spaced evenly between 0 and 0.99
every combination of the values runs (a full grid) through jaxgd.sweep, in chunks; the result is
saved as a .npz after each chunk, and the same command run again resumes an interrupted sweep.
Each sweep's files are named by a hash of what it computes (sweep_OPTIMIZER_PROBLEM_HASH.*), so a
different sweep never overwrites them; a file there of another computation is refused (--force
replaces it). Non-finite losses are written as null in the JSON; "diverged" flags those runs.

examples:
  jaxgd sweep --problem ravine50 --optimizer sgd --param learning_rate=log:1e-4:0.05:64 --steps 200
  jaxgd sweep --problem rosenbrock --optimizer momentum \\
      --param learning_rate=log:1e-5:1e-2:32 --param momentum=lin:0:0.95:16 --steps 2000 --out sweep_rb
"""


class UsageError(Exception):
    """Bad command-line input: printed as a message, exit status 2."""


# --------------------------------------------------------------------------- output


def jsonable(x: Any) -> Any:
    """``x`` as plain JSON values: arrays as lists, numpy scalars as numbers, non-finite floats as None.

    Args:
        x: Numbers, strings, arrays, and dicts, lists and tuples of them.

    Returns:
        The same data as dicts (with str keys), lists, numbers, strings and None.
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "__array__"):  # numpy and JAX arrays and scalars
        import numpy as np

        return jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def json_text(x: Any) -> str:
    """Strict JSON of ``x`` (:func:`jsonable`): no ``Infinity`` or ``NaN`` tokens, which other readers reject.

    Args:
        x: What :func:`jsonable` takes.

    Returns:
        The JSON text, indented by 2.
    """
    return json.dumps(jsonable(x), indent=2, allow_nan=False)


def _existing_ancestor(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists (the current folder at worst)."""
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path(".")


def _output_folder(path: str | os.PathLike, option: str) -> Path:
    """Check that ``path`` is, or can be made, a folder: UsageError naming ``option`` if not. Nothing is created."""
    path = Path(path)
    found = _existing_ancestor(path)
    if not found.is_dir():
        what = "is a file" if found == path else f"cannot be made: {found} is a file"
        raise UsageError(f"{option} {path} {what}, not a folder")
    if not os.access(found, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: {found} is not writable")
    return path


def _output_file(path: str | os.PathLike, option: str) -> Path:
    """Check that ``path`` can be written as a file (not a folder, in a folder that can be made)."""
    path = Path(path)
    if path.is_dir() or not path.name or path.name in (".", ".."):
        raise UsageError(f"{option} {path} is a folder; give a file name")
    _output_folder(path.parent, option)
    return path


def _make_folder(path: Path, option: str) -> Path:
    """Create the folder checked by :func:`_output_folder`; a failure is a UsageError."""
    _output_folder(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{option} {path}: cannot create the folder ({err.strerror or err})") from None
    return path


# --------------------------------------------------------------------------- registries


def _optimizers() -> dict[str, Callable]:
    from jaxgd import optimizers

    return {name: getattr(optimizers, name) for name in optimizers.__all__ if name != "chain"}


def _problem(name: str):
    from jaxgd import problems

    if name not in problems.REGISTRY:
        raise UsageError(f"unknown problem {name!r}; valid problems: {', '.join(sorted(problems.REGISTRY))}")
    return problems.REGISTRY[name]()


def _optimizer_factory(name: str) -> Callable:
    table = _optimizers()
    if name not in table:
        raise UsageError(f"unknown optimizer {name!r}; valid optimizers: {', '.join(sorted(table))}")
    return table[name]


def _numeric_hyperparameters(factory: Callable) -> list[str]:
    """The arguments of an optimizer factory that take numbers (not flags or conventions): what a sweep may vary."""

    def numeric(p: inspect.Parameter) -> bool:
        if p.default is p.empty:
            return True
        if p.default is None:  # an optional number (rmsprop's momentum), not a mask or a dtype
            return "Hyperparameter" in str(p.annotation)
        return isinstance(p.default, (int, float)) and not isinstance(p.default, bool)

    return [n for n, p in inspect.signature(factory).parameters.items() if numeric(p)]


# --------------------------------------------------------------------------- experiments


def experiments_dir() -> Path:
    """The experiment scripts: ``JAXGD_EXPERIMENTS`` if set, else the package ``jaxgd._experiments``.

    The wheel carries the checkout's ``experiments/`` folder as ``jaxgd._experiments``; an editable
    install maps that name to the folder itself. When jaxgd is imported from a source checkout (an
    editable install, or a worktree on ``PYTHONPATH``) that checkout's own ``experiments/`` is used.

    Returns:
        The folder's path.
    """
    override = os.environ.get("JAXGD_EXPERIMENTS")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "experiments").is_dir():
        return checkout / "experiments"
    try:
        return Path(str(importlib.resources.files("jaxgd._experiments")))
    except ModuleNotFoundError:
        return checkout / "experiments"


def _module_ast(name: str) -> ast.Module:
    return ast.parse((experiments_dir() / f"{name}.py").read_text())


def _order(name: str) -> int:
    """An experiment's ``ORDER = n`` (its place in the index; 1000 if it has none), read without running it."""
    for node in _module_ast(name).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ORDER" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
                return node.value.value
    return 1000


def available_experiments() -> list[str]:
    """Names of the experiment scripts (``experiments/*.py`` not starting with an underscore), in index order.

    Returns:
        The names, ordered by each script's ``ORDER`` (1000 if none), then by name.
    """
    d = experiments_dir()
    names = [p.stem for p in d.glob("*.py") if not p.stem.startswith("_")] if d.is_dir() else []
    return sorted(names, key=lambda n: (_order(n), n))


def experiment_summary(name: str) -> str:
    """The first line of an experiment's docstring, read without running it.

    Args:
        name: The experiment's name (its script's stem).

    Returns:
        The line, or "" when the script has no docstring.
    """
    doc = ast.get_docstring(_module_ast(name)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _load(name: str):
    d = str(experiments_dir())
    if d not in sys.path:
        sys.path.insert(0, d)  # experiments share experiments/_common.py
    path = experiments_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"jaxgd_experiment_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_index(out: str | os.PathLike) -> Path:
    """Write ``index.md`` in ``out``: every experiment whose ``<name>.json`` is there, its files, one line each.

    Built from the files on disk, so running a subset of experiments keeps the
    others' entries. PNGs are shown inline.

    Args:
        out: The results folder.

    Returns:
        The path of ``index.md``.
    """
    out = Path(out)
    summaries = {}
    for name in available_experiments():
        path = out / f"{name}.json"
        if not path.is_file():
            continue
        try:
            summaries[name] = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
    lines = ["# jaxgd results", ""]
    lines += _claims_table(summaries)
    findings = [(s.get("title", n), s["findings"]) for n, s in summaries.items() if s.get("findings")]
    if findings:
        lines += ["## Summary", ""]
        lines += [f"- **{title}**: " + " ".join(items) for title, items in findings]
        lines.append("")
    found = len(summaries)
    for name, summary in summaries.items():
        size = " (small sizes)" if summary.get("small") else ""
        lines += [f"## {summary.get('title', name)}{size}", "", f"`{name}`: {experiment_summary(name)}", ""]
        for filename, explanation in summary.get("outputs", {}).items():
            lines.append(f"- [{filename}]({filename}): {explanation}")
        lines.append("")
        for filename in summary.get("outputs", {}):
            if filename.endswith((".png", ".gif")):
                lines += [f"![{filename}]({filename})", ""]
            elif filename.endswith(".md") and (out / filename).is_file():
                lines += [(out / filename).read_text().rstrip(), ""]
    if not found:
        lines.append("No experiment results here yet: run `jaxgd reproduce`.")
    index = out / "index.md"
    files.write_text(index, "\n".join(lines) + "\n")
    return index


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _claims_table(summaries: dict[str, dict]) -> list[str]:
    """The lectures' claims, what each experiment measured and whether the claim holds: one Markdown table.

    Read from the ``claims`` list of each experiment's JSON (written by ``Report.claim``); no lines when
    no experiment states a claim.
    """
    rows = [(n, c) for n, s in summaries.items() for c in s.get("claims") or ()]
    if not rows:
        return []
    verdict = {True: "yes", False: "**no**", None: "-"}
    lines = ["## Lecture claims against measurement", "", "| experiment | lecture | claim | measured | holds |"]
    lines.append("|---|---|---|---|---|")
    for name, c in rows:
        cells = [f"`{name}`", c.get("lecture", ""), c.get("claim", ""), c.get("measured", ""), verdict[c.get("holds")]]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return [*lines, ""]


def add_experiment_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` and ``--small``: the options of ``jaxgd reproduce`` and of each ``python experiments/X.py``.

    Args:
        parser: The parser to add them to.
    """
    parser.add_argument("--out", default="results", help="output folder (default: results)")
    parser.add_argument("--small", action="store_true", help="small sizes, for a quick check (seconds, not minutes)")


def _reproduce(args: argparse.Namespace) -> int:
    valid = available_experiments()
    if not valid:
        print(f"jaxgd reproduce: error: no experiments found in {experiments_dir()}", file=sys.stderr)
        return 1
    if args.list:
        for name in valid:
            print(f"{name:24s} {experiment_summary(name)}")
        return 0
    names = args.names or valid
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(f"unknown experiment(s): {', '.join(unknown)}; valid experiments: {', '.join(valid)}")
    out = _make_folder(Path(args.out), "--out")
    total = time.perf_counter()
    failed = []
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        print(f"[{i}/{len(names)}] {name}: {experiment_summary(name)}", flush=True)
        try:
            _load(name).main(str(out), small=args.small)
        except Exception:  # one broken experiment must not cost the others their results
            traceback.print_exc()
            failed.append(name)
            print(f"[{i}/{len(names)}] {name} FAILED", file=sys.stderr, flush=True)
            continue
        print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - start:.1f}s", flush=True)
    index = write_index(out)
    print(f"{len(names)} experiment(s) in {time.perf_counter() - total:.1f}s; index: {index.resolve()}")
    if failed:
        print(f"{len(failed)} experiment(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- sweep


def parse_param(text: str) -> tuple[str, list[float], bool]:
    """Parse ``NAME=SPEC`` (see ``jaxgd sweep --help``) into (name, values, log-spaced).

    Args:
        text: ``NAME=a,b,c``, ``NAME=log:lo:hi:n`` or ``NAME=lin:lo:hi:n``.

    Returns:
        ``(name, values, log)``: ``log`` is True for a log range, or a list whose values look log-spaced.

    Raises:
        UsageError: If the text is malformed, a value is not finite, or a range is empty (or not
            positive, for ``log:``).
    """
    import numpy as np

    if "=" not in text:
        raise UsageError(f"--param needs NAME=SPEC, got {text!r}")
    name, spec = (s.strip() for s in text.split("=", 1))
    try:
        if spec.startswith(("log:", "lin:")):
            kind, lo, hi, n = spec.split(":")
            lo_f, hi_f, n_i = float(lo), float(hi), int(n)
            if not (math.isfinite(lo_f) and math.isfinite(hi_f)):
                raise UsageError(f"--param {name}: a range needs finite bounds, got {lo_f} and {hi_f}")
            if n_i < 1:
                raise UsageError(f"--param {name}: the number of values must be >= 1, got {n_i}")
            if kind == "log":
                if lo_f <= 0 or hi_f <= 0:
                    raise UsageError(f"--param {name}: a log range needs positive bounds, got {lo_f} and {hi_f}")
                return name, np.geomspace(lo_f, hi_f, n_i).tolist(), True
            return name, np.linspace(lo_f, hi_f, n_i).tolist(), False
        values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError as err:
        raise UsageError(f"--param {name}: cannot read range {spec!r} ({err}); see jaxgd sweep --help") from None
    if not values:
        raise UsageError(f"--param {name}: no values in {spec!r}")
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"--param {name}: values must be finite, got {values}")
    from jaxgd.sweeps import infer_scale

    return name, values, infer_scale(values) == "log"


def _sweep(args: argparse.Namespace) -> int:
    problem, factory, params = _sweep_inputs(args)
    names = [p[0] for p in params]
    import jaxgd
    from jaxgd import analysis

    out = _output_folder(args.out, "--out")
    sweep_id = _sweep_id(args, problem, params)
    stem = f"sweep_{args.optimizer}_{problem.name}_{sweep_id}"
    paths = {ext: out / f"{stem}.{ext}" for ext in ("json", "npz", "png")}
    space = jaxgd.grid(**{name: values for name, values, _ in params})
    _claim_outputs(paths, sweep_id, space, args)
    _make_folder(out, "--out")
    print(f"sweep: {args.optimizer} on {problem.name}, {len(space)} runs x {args.steps} steps", file=sys.stderr)
    start = time.perf_counter()
    swept = _run_sweep(factory, problem, space, args, paths["npz"])
    bounds = analysis.learning_rate_bounds(problem) if "learning_rate" in names else None
    result = _sweep_summary(args, problem, names, swept, bounds, seconds=time.perf_counter() - start)
    result = {"sweep_id": sweep_id, **result}
    files.write_text(paths["json"], json_text(result))
    _sweep_figure(args, problem, params, swept, bounds, paths["png"])
    runs = f"{len(result['grid'])} runs in {result['seconds']:.1f}s"
    best = result["best"]
    if best is None:
        print(f"{runs}; every run diverged: no best configuration")
    else:
        summary = ", ".join(f"{n}={best[n]:.4g}" for n in names)
        print(f"{runs}; best: {summary}, final loss {best['final_loss']:.4g}")
    print(f"wrote {paths['json']}, {paths['npz']} (jaxgd.SweepResult.load) and {paths['png']}")
    return 0


def _sweep_id(args: argparse.Namespace, problem: Any, params: list[tuple[str, list[float], bool]]) -> str:
    """A short hash of what the sweep computes (problem, optimizer, values, steps, precision): its files' name.

    ``--chunk`` is left out: it groups the runs, not what they compute, so a sweep may resume with another.
    """
    import jax

    settings = {
        "problem": problem.name,
        "optimizer": args.optimizer,
        "params": [[name, [float(v) for v in values]] for name, values, _ in params],
        "steps": args.steps,
        "dtype": jax.dtypes.canonicalize_dtype(float).name,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def _holds_this_sweep(ext: str, path: Path, sweep_id: str, space: Any, steps: int) -> bool:
    """Whether an existing output file is this sweep's (its JSON names ``sweep_id``; its .npz has the grid)."""
    import numpy as np

    import jaxgd

    try:
        if ext == "npz":
            saved = jaxgd.SweepResult.load(path)
            return (
                saved.steps == steps
                and list(saved.hyperparams) == list(space.names)
                and all(
                    np.shape(saved.hyperparams[n]) == np.shape(space.columns[n])
                    and np.allclose(saved.hyperparams[n], space.columns[n], rtol=1e-12, atol=0)
                    for n in space.names
                )
            )
        if ext == "png":  # a figure is this sweep's when the JSON beside it is
            path = path.with_suffix(".json")
        return json.loads(path.read_text()).get("sweep_id") == sweep_id
    except Exception:  # unreadable, or not a file of ours: another computation's
        return False


def _claim_outputs(paths: dict[str, Path], sweep_id: str, space: Any, args: argparse.Namespace) -> None:
    """Refuse (UsageError) to overwrite files of another computation unless ``--force``; then remove its .npz."""
    others = []
    for ext, path in paths.items():
        if path.exists() and not path.is_file() and ext != "npz":  # an interrupted sweep's .npz is a folder
            raise UsageError(f"{path} is in the way of the sweep's {ext} file and is not a file")
        if path.exists() and not _holds_this_sweep(ext, path, sweep_id, space, args.steps):
            others.append(path)
    if not others:
        return
    listed = ", ".join(map(str, others))
    if not args.force:
        raise UsageError(f"{listed}: another computation's result; --force replaces it, or choose another --out")
    print(f"sweep: --force: replacing {listed}", file=sys.stderr)
    if paths["npz"] in others:
        _delete_sweep(paths["npz"])


def _sweep_inputs(args: argparse.Namespace) -> tuple[Any, Callable, list[tuple[str, list[float], bool]]]:
    """The problem, the optimizer factory and the parsed ``--param`` ranges, checked: UsageError if bad."""
    problem = _problem(args.problem)
    factory = _optimizer_factory(args.optimizer)
    valid = _numeric_hyperparameters(factory)
    params = [parse_param(p) for p in args.param] or [("learning_rate", [1e-3, 1e-2, 1e-1], True)]
    names = [p[0] for p in params]
    for name in names:
        if name not in valid:
            raise UsageError(f"optimizer {args.optimizer!r} has no hyperparameter {name!r}; valid: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise UsageError(f"each --param may be given once, got {names}")
    import jaxgd

    try:  # every required hyperparameter given, and the optimizer builds at the ends of each range
        jaxgd.sweeps.check_factory(factory, jaxgd.grid(**{name: values for name, values, _ in params}))
    except ValueError as err:
        raise UsageError(f"optimizer {args.optimizer!r}: {err}") from None
    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    if args.chunk < 1:
        raise UsageError(f"--chunk must be >= 1, got {args.chunk}")
    return problem, factory, params


def _run_sweep(factory: Callable, problem: Any, space: Any, args: argparse.Namespace, saved: Path) -> Any:
    """``jaxgd.sweep``, saved per chunk to ``saved``: an interrupted run of the same sweep resumes there.

    A file there of a different sweep (one :func:`_claim_outputs` could not tell apart, e.g. another
    version's problem data) is a UsageError, or replaced with ``--force``; it is never removed silently.
    """
    import jaxgd

    def run():
        return jaxgd.sweep(
            factory, problem, space, args.steps, chunk_size=args.chunk, out=saved, progress=not args.quiet
        )

    try:
        return run()
    except ValueError as err:
        if "different sweep" not in str(err):
            raise
        if not args.force:
            raise UsageError(f"{saved} holds a different sweep; --force replaces it, or choose another --out") from None
        print(f"sweep: --force: replacing {saved}, the result of a different sweep", file=sys.stderr)
        _delete_sweep(saved)
        return run()


def _delete_sweep(path: Path) -> None:
    """Remove a sweep's own files (``jaxgd.sweeps.delete``); anything else there is a UsageError, not deleted."""
    import jaxgd

    try:
        jaxgd.sweeps.delete(path)
    except ValueError as err:  # a folder holding other files: never removed
        raise UsageError(str(err)) from None


def _sweep_summary(
    args: argparse.Namespace, problem: Any, names: list[str], swept: Any, bounds: Any, seconds: float
) -> dict:
    """What ``jaxgd sweep`` writes as JSON: every run's grid point, final and best loss (null where not finite),
    whether it diverged, the best run that did not (None if every run diverged), theory lines."""
    import numpy as np

    grid = np.stack([np.asarray(swept.hyperparams[name], dtype=float) for name in names], axis=1)
    final = np.asarray(swept.final_loss, dtype=float)
    ok = np.isfinite(final) & ~np.asarray(swept.diverged)
    best_i = int(np.argmin(np.where(ok, final, np.inf)))
    best = {"index": best_i, **dict(zip(names, grid[best_i].tolist())), "final_loss": float(final[best_i])}
    return {
        "problem": problem.name,
        "optimizer": args.optimizer,
        "steps": args.steps,
        "hyperparameters": names,
        "grid": grid.tolist(),
        "final_loss": final.tolist(),
        "best_loss": swept.best_loss.tolist(),
        "diverged": swept.diverged.tolist(),
        "minimum": float(problem.minimum) if problem.minimum is not None else None,
        "all_diverged": not ok.any(),
        "best": best if ok.any() else None,
        "theory_at_minimizer": bounds.to_dict() if bounds is not None else {},
        "seconds": seconds,
    }


def _sweep_figure(args: argparse.Namespace, problem: Any, params: list, swept: Any, bounds: Any, figure: Path) -> None:
    """A heatmap of the final loss (two hyperparameters), else final loss against the first one."""
    import numpy as np

    from jaxgd import analysis, plot

    names = [p[0] for p in params]
    fmin = float(problem.minimum) if problem.minimum is not None else 0.0
    final = swept.final_loss
    title = f"{args.optimizer} on {problem.name}, {args.steps} steps"
    if len(names) == 2:
        x, y = params[0][1], params[1][1]
        z = (final - fmin).reshape(len(x), len(y)).T
        region = None
        if args.optimizer == "momentum" and names == ["learning_rate", "momentum"] and bounds is not None:
            region = functools.partial(analysis.momentum_stable, bounds.spectrum)
        ax = plot.heatmap(
            x,
            y,
            z,
            xlabel=names[0],
            ylabel=names[1],
            log_x=params[0][2],
            log_y=params[1][2],
            region=region,
            region_label="stability edge of the Hessian at the minimiser (a local bound: not where the runs start)",
            title=title,
        )
    else:  # final loss against the first hyperparameter (the best over any others)
        x = np.asarray(params[0][1])
        ranked = np.where(np.isfinite(final), final - fmin, np.inf).reshape(len(x), -1)
        y = np.where(np.isfinite(ranked.min(axis=1)), ranked.min(axis=1), np.nan)
        label = args.optimizer if len(names) == 1 else f"{args.optimizer} (best over {', '.join(names[1:])})"
        lines = bounds if bounds is not None and names[0] == "learning_rate" else None
        ax = plot.sweep_plot(
            x,
            {label: y},
            stability_bound=lines.stability_bound if lines else None,
            optimal_lr=lines.optimal_lr if lines else None,
            xlabel=names[0],
            ceiling=1e10,
            title=title,
        )
    plot.save(ax, figure)


# --------------------------------------------------------------------------- analyze


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _show_point(title: str, row: dict) -> None:
    print(f"\n{title}: x = {_fmt(row['x'])}, f = {_fmt(row['f'])}, |grad| = {_fmt(row['grad_norm'])}")
    ev = row["eigenvalues"]
    shown = ev if len(ev) <= 8 else [*ev[:4], "...", *ev[-4:]]
    print(f"  Hessian eigenvalues: {_fmt(shown)}  -> {row['kind']}")
    for key in ("kappa", "stability_bound", "optimal_lr", "gd_rate_at_optimal_lr", "nesterov_rate"):
        if key in row:
            print(f"  {key:24s} {_fmt(row[key])}")
    if "heavy_ball_optimal" in row:
        hb = row["heavy_ball_optimal"]
        print(
            f"  {'heavy ball (Polyak)':24s} eta={_fmt(hb['learning_rate'])}, momentum={_fmt(hb['momentum'])}, "
            f"rate={_fmt(hb['rate'])}"
        )


def _analyze(args: argparse.Namespace) -> int:
    from jaxgd import analysis

    problem = _problem(args.problem)
    if args.samples < 1:
        raise UsageError(f"--samples must be >= 1, got {args.samples}")
    if args.json:
        _output_file(args.json, "--json")
    report = analysis.analyze(problem, samples=args.samples).to_dict()
    print(f"{problem.name}: dimension {problem.dim}")
    _show_point("at the start x0", report["start"])
    for row in report["critical_points"]:
        _show_point(f"critical point ({row['listed_as']})", row)
    if not report["critical_points"]:
        print("\nno known critical points")
    if "curvature_over_box" in report:
        c = report["curvature_over_box"]
        print(
            f"\nover the box {c['box']} ({c['samples']} samples): smallest Hessian eigenvalue "
            f"{_fmt(c['alpha_estimate'])} (alpha), largest {_fmt(c['beta_estimate'])} (beta)"
        )
    if args.json:
        path = files.write_text(args.json, json_text(report))  # makes the folder if missing
        print(f"\nwrote {path}")
    return 0


# --------------------------------------------------------------------------- list


def _list(args: argparse.Namespace) -> int:
    from jaxgd import problems

    print("problems:    " + ", ".join(sorted(problems.REGISTRY)))
    print("optimizers:  " + ", ".join(sorted(_optimizers())))
    for name, factory in sorted(_optimizers().items()):
        print(f"  {name:14s} hyperparameters: {', '.join(_numeric_hyperparameters(factory))}")
    print("experiments: " + ", ".join(available_experiments()))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The ``jaxgd`` command's parser: ``reproduce``, ``sweep``, ``analyze``, ``bench`` and ``list``.

    Returns:
        The ``argparse.ArgumentParser``; each command's namespace carries its handler as ``func``.
    """
    parser = argparse.ArgumentParser(
        prog="jaxgd",
        description="jaxgd: study gradient-based optimizers in JAX. "
        "Run the course's experiments, sweep hyperparameters, or analyse a test problem's curvature.",
        epilog="Run 'jaxgd COMMAND --help' for a command's options; 'jaxgd list' shows problems and optimizers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = sub.add_parser(
        "reproduce",
        help="run the experiments (all by default): figures, numbers and an index page",
        description="Run experiments from the experiments/ folder. Each writes PNG figures and a JSON/CSV of its "
        "numbers into --out; index.md there lists every file with one line of explanation.",
    )
    rep.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all; see --list)")
    add_experiment_options(rep)
    rep.add_argument("--list", action="store_true", help="list the experiments and exit")
    rep.set_defaults(func=_reproduce)

    sw = sub.add_parser(
        "sweep",
        help="sweep an optimizer's hyperparameters on a problem: result file and plot",
        description="Run an optimizer on a built-in problem over a grid of hyperparameter values, all runs in one "
        "jit(vmap(...)) per chunk. Writes sweep_OPTIMIZER_PROBLEM_HASH.json (every run's final and best loss), "
        "sweep_OPTIMIZER_PROBLEM_HASH.npz (the whole jaxgd.SweepResult, saved per chunk) and a "
        "plot: final loss against the hyperparameter (one --param, with 2/lambda_max and eta* from the Hessian "
        "at the minimiser) or a heatmap (two --param).",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sw.add_argument("--problem", required=True, help="a built-in problem (see 'jaxgd list')")
    sw.add_argument("--optimizer", required=True, help="an optimizer: " + ", ".join(sorted(_optimizers())))
    sw.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a hyperparameter and its values (repeatable; default learning_rate=0.001,0.01,0.1)",
    )
    sw.add_argument("--steps", type=int, default=500, help="optimizer steps per run (default: 500)")
    sw.add_argument("--chunk", type=int, default=1024, help="runs per vmapped chunk (default: 1024)")
    sw.add_argument("--out", default="sweep_results", help="output folder (default: sweep_results)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument(
        "--force", action="store_true", help="replace files in --out that hold another computation's result"
    )
    sw.set_defaults(func=_sweep)

    an = sub.add_parser(
        "analyze",
        help="curvature of a problem: Hessian spectrum, kappa, 2/lambda_max, eta*, critical points",
        description="Print the Hessian eigenvalues at the start and at every known critical point of a built-in "
        "problem, their classification (minimum, maximum, strict saddle, degenerate), and where positive definite "
        "the condition number kappa, the GD stability bound 2/lambda_max, eta* = 2/(L + mu) and the predicted "
        "rates of GD, Polyak's heavy ball and Nesterov; for 2-D problems, curvature estimates over the plot box.",
    )
    an.add_argument("problem", metavar="PROBLEM", help="a built-in problem (see 'jaxgd list')")
    an.add_argument("--json", metavar="FILE", help="also write the numbers to FILE as JSON")
    an.add_argument("--samples", type=int, default=256, help="points sampled in the box (default: 256)")
    an.set_defaults(func=_analyze)

    from jaxgd.bench import cli as bench_cli  # jaxgd bench: tuning, leaderboard, profiles (jaxgd.bench)

    bench_cli.add_parser(sub)
    ls = sub.add_parser("list", help="list the problems, optimizers (with hyperparameters) and experiments")
    ls.set_defaults(func=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jaxgd`` command (the console script's entry point).

    Args:
        argv: The arguments, without the program name; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 1 if an experiment failed, 2 on bad input (one line on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as err:
        print(f"jaxgd {args.command}: error: {err}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
