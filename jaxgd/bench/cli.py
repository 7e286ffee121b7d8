"""``jaxgd bench``: the benchmark from the command line.

Hooked into :mod:`jaxgd.cli` by ``add_parser(sub)`` on its sub-command parsers; ``main(args)`` runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["add_parser", "main"]

DESCRIPTION = (
    "Tune each optimizer on each problem over a log grid of learning rates (36 over 1e-5..1e2; 3 seeds for "
    "stochastic problems), one compiled call per problem for all the optimizers, run the second-order methods "
    "of jaxgd.minimize on the deterministic problems, then rank them: leaderboard.md/.json (steps and "
    "gradient-equivalents to f - f* <= tau (f(x0) - f*) for tau = 0.1, 1e-3, 1e-6, final gap, test accuracy on "
    "learning problems, wall time, width of the good range), profiles.json and profile.png (Dolan-More "
    "performance profiles in gradient-equivalents, deterministic and stochastic problems apart), "
    "sensitivity/PROBLEM.png (final loss against the learning rate with 2/lambda_max). Each problem's runs are "
    "saved in OUT/tunings and reused when the command is run again. Prints where the time went (phases, "
    "compilations, per problem, per run)."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` sub-command to ``subparsers`` (an ``argparse`` sub-parsers object).

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The sub-command's parser, its ``func`` set to :func:`main`.
    """
    p = subparsers.add_parser(
        "bench", help="benchmark and tune optimizers: leaderboard, performance profiles", description=DESCRIPTION
    )
    p.add_argument("--optimizers", nargs="+", metavar="NAME", help="optimizers (default: sgd momentum adam sgd_hd)")
    p.add_argument("--problems", nargs="+", metavar="NAME", help="problems (default: the default suite)")
    p.add_argument("--small", action="store_true", help="three problems, sgd and adam, 100 steps, 12 rates")
    p.add_argument("--steps", type=int, help="steps per run (default: 1000; --small: 100)")
    p.add_argument(
        "--rule",
        choices=("final_loss", "steps"),
        default="final_loss",
        help="choose the rate by median final loss (default) or fewest steps to tau = 1e-3",
    )
    p.add_argument(
        "--second-order",
        nargs="*",
        default=["lbfgs", "newton_cg"],
        metavar="METHOD",
        help="jaxgd.minimize methods counted by evaluations (default: lbfgs newton_cg; none given: skip)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--list", action="store_true", help="list the optimizers and problems and exit")
    p.add_argument("--out", default="bench_results", help="output folder (default: bench_results)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)
    return p


def _progress(quiet: bool):
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return lambda i, n, text: print(f"[{i}/{n}] {text}", file=sys.stderr, flush=True)
    bar = {}

    def update(i: int, n: int, text: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=n, desc="bench", unit="problem", file=sys.stderr)
        b = bar["bar"]
        b.set_postfix_str(text)
        b.update(i - b.n)
        if i == n:
            b.close()

    return update


def _list() -> int:
    from jaxgd.bench.suite import DEFAULT_TASKS, OPTIMIZERS, registry

    print("optimizers:", " ".join(OPTIMIZERS))
    print("problems (* in the default suite):")
    for name in registry():
        print(f"  {'*' if name in DEFAULT_TASKS else ' '} {name}")
    return 0


def main(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed ``args``; print the leaderboard's summary. 0 on success, 2 on bad input.

    Args:
        args: The parsed command line of the ``bench`` sub-command.

    Returns:
        The exit status: 0 on success, 2 on bad input (the error printed to stderr).
    """
    if args.list:
        return _list()
    from jaxgd.bench.benchmark import bench
    from jaxgd.bench.report import markdown, timing_text
    from jaxgd.bench.tuning import Rule

    start = time.perf_counter()
    try:
        board = bench(
            args.out,
            optimizers=args.optimizers,
            problems=args.problems,
            small=args.small,
            steps=args.steps,
            rule=Rule(args.rule),
            second_order=args.second_order,
            figures=not args.no_figures,
            progress=_progress(args.quiet),
        )
    except ValueError as err:
        print(f"jaxgd bench: error: {err}", file=sys.stderr)
        return 2
    head = "\n\n".join(markdown(board).split("\n\n")[:2])
    print(head)
    print("\n" + timing_text(board["timing"]))
    print(f"\nwritten to {args.out} in {time.perf_counter() - start:.1f}s")
    return 0
