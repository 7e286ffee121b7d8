"""The ``jaxgd`` command line."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

__all__ = ["available_experiments", "experiments_dir", "main"]


def experiments_dir() -> Path:
    """The ``experiments/`` folder of the checkout jaxgd was installed from."""
    return Path(__file__).resolve().parents[1] / "experiments"


def available_experiments() -> list[str]:
    d = experiments_dir()
    return sorted(p.stem for p in d.glob("*.py") if not p.stem.startswith("_")) if d.is_dir() else []


def _load(name: str):
    path = experiments_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"jaxgd_experiment_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reproduce(args: argparse.Namespace) -> int:
    names = args.names or available_experiments()
    valid = available_experiments()
    unknown = [n for n in names if n not in valid]
    if unknown:
        print(f"unknown experiment(s): {', '.join(unknown)}; valid names: {', '.join(valid)}", file=sys.stderr)
        return 2
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        _load(name).main(args.out, small=args.small)
        print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - start:.1f}s", flush=True)
    print(f"results written to {Path(args.out).resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxgd", description="jaxgd: study gradient-based optimizers in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "reproduce",
        help="run the experiments (all by default) and write figures and a summary",
        description="Run experiments from the experiments/ folder; each writes PNGs and JSON into --out.",
    )
    rep.add_argument("names", nargs="*", help="experiments to run (default: all)")
    rep.add_argument("--out", default="results", help="output folder (default: results)")
    rep.add_argument("--small", action="store_true", help="small sizes, for a quick check")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
