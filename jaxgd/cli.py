"""The ``jaxgd`` command line: reproduce the experiments, sweep hyperparameters, analyse a problem.

    jaxgd reproduce [NAME ...] [--out DIR] [--small] [--list]
    jaxgd sweep --problem P --optimizer O --param NAME=SPEC [--param ...] [--steps N] [--out DIR]
    jaxgd analyze PROBLEM [--json FILE]
    jaxgd list

Errors in the arguments (an unknown problem, optimizer, hyperparameter or
experiment, a malformed range) print a message naming the valid choices and
exit with status 2.
"""

from __future__ import annotations

import argparse
import ast
import functools
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

examples:
  jaxgd sweep --problem ravine50 --optimizer sgd --param learning_rate=log:1e-4:0.05:64 --steps 200
  jaxgd sweep --problem rosenbrock --optimizer momentum \\
      --param learning_rate=log:1e-5:1e-2:32 --param momentum=lin:0:0.95:16 --steps 2000 --out sweep_rb
"""


class UsageError(Exception):
    """Bad command-line input: printed as a message, exit status 2."""


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

    def numeric(default: Any) -> bool:
        if default is inspect.Parameter.empty or default is None:
            return True
        return isinstance(default, (int, float)) and not isinstance(default, bool)

    return [n for n, p in inspect.signature(factory).parameters.items() if numeric(p.default)]


# --------------------------------------------------------------------------- experiments


def experiments_dir() -> Path:
    """The ``experiments/`` folder of the checkout jaxgd was installed from (``JAXGD_EXPERIMENTS`` overrides)."""
    override = os.environ.get("JAXGD_EXPERIMENTS")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "experiments"


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
    """Names of the experiment scripts (``experiments/*.py`` not starting with an underscore), in index order."""
    d = experiments_dir()
    names = [p.stem for p in d.glob("*.py") if not p.stem.startswith("_")] if d.is_dir() else []
    return sorted(names, key=lambda n: (_order(n), n))


def experiment_summary(name: str) -> str:
    """The first line of an experiment's docstring, read without running it."""
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
            if filename.endswith(".png"):
                lines += [f"![{filename}]({filename})", ""]
            elif filename.endswith(".md") and (out / filename).is_file():
                lines += [(out / filename).read_text().rstrip(), ""]
    if not found:
        lines.append("No experiment results here yet: run `jaxgd reproduce`.")
    index = out / "index.md"
    files.write_text(index, "\n".join(lines) + "\n")
    return index


def add_experiment_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` and ``--small``: the options of ``jaxgd reproduce`` and of each ``python experiments/X.py``."""
    parser.add_argument("--out", default="results", help="output folder (default: results)")
    parser.add_argument("--small", action="store_true", help="small sizes, for a quick check (seconds, not minutes)")


def _reproduce(args: argparse.Namespace) -> int:
    valid = available_experiments()
    if args.list:
        for name in valid:
            print(f"{name:24s} {experiment_summary(name)}")
        return 0
    names = args.names or valid
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(f"unknown experiment(s): {', '.join(unknown)}; valid experiments: {', '.join(valid)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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
    """Parse ``NAME=SPEC`` (see ``jaxgd sweep --help``) into (name, values, log-spaced)."""
    import numpy as np

    if "=" not in text:
        raise UsageError(f"--param needs NAME=SPEC, got {text!r}")
    name, spec = (s.strip() for s in text.split("=", 1))
    try:
        if spec.startswith(("log:", "lin:")):
            kind, lo, hi, n = spec.split(":")
            lo_f, hi_f, n_i = float(lo), float(hi), int(n)
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

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"sweep_{args.optimizer}_{problem.name}"
    space = jaxgd.grid(**{name: values for name, values, _ in params})
    print(f"sweep: {args.optimizer} on {problem.name}, {len(space)} runs x {args.steps} steps", file=sys.stderr)
    start = time.perf_counter()
    saved = out / f"{stem}.npz"
    swept = _run_sweep(factory, problem, space, args, saved)
    bounds = analysis.learning_rate_bounds(problem) if "learning_rate" in names else None
    result = _sweep_summary(args, problem, names, swept, bounds, seconds=time.perf_counter() - start)
    path = out / f"{stem}.json"
    files.write_text(path, json.dumps(result, indent=2))
    figure = out / f"{stem}.png"
    _sweep_figure(args, problem, params, swept, bounds, figure)
    best = result["best"]
    summary = ", ".join(f"{n}={best[n]:.4g}" for n in names)
    print(
        f"{len(result['grid'])} runs in {result['seconds']:.1f}s; best: {summary}, final loss {best['final_loss']:.4g}"
    )
    print(f"wrote {path}, {saved} (jaxgd.SweepResult.load) and {figure}")
    return 0


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
    """``jaxgd.sweep``, saved per chunk to ``saved``: an interrupted run of the same sweep resumes there."""
    import jaxgd

    def run():
        return jaxgd.sweep(
            factory, problem, space, args.steps, chunk_size=args.chunk, out=saved, progress=not args.quiet
        )

    try:
        return run()
    except ValueError as err:
        if "holds a different sweep" not in str(err):
            raise
        print(f"sweep: replacing {saved}, the result of a different sweep", file=sys.stderr)
        saved.unlink()
        return run()


def _sweep_summary(
    args: argparse.Namespace, problem: Any, names: list[str], swept: Any, bounds: Any, seconds: float
) -> dict:
    """What ``jaxgd sweep`` writes as JSON: every run's grid point, final and best loss, the best run, theory lines."""
    import numpy as np

    grid = np.stack([np.asarray(swept.hyperparams[name], dtype=float) for name in names], axis=1)
    final = swept.final_loss
    best_i = int(np.argmin(np.where(np.isfinite(final), final, np.inf)))
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
        "best": {"index": best_i, **dict(zip(names, grid[best_i].tolist())), "final_loss": float(final[best_i])},
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
        path = files.write_text(args.json, json.dumps(report, indent=2))  # makes the folder if missing
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
        "jit(vmap(...)) per chunk. Writes sweep_OPTIMIZER_PROBLEM.json (every run's final and best loss), "
        "sweep_OPTIMIZER_PROBLEM.npz (the whole jaxgd.SweepResult, saved per chunk) and a "
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

    ls = sub.add_parser("list", help="list the problems, optimizers (with hyperparameters) and experiments")
    ls.set_defaults(func=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as err:
        print(f"jaxgd {args.command}: error: {err}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
