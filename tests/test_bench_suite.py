"""The benchmark end to end: a resumed bench equals an uninterrupted one; files of another computation are refused."""

import argparse
import json

import numpy as np
import pytest

import jaxgd
from jaxgd.bench import cli
from jaxgd.bench.benchmark import bench
from jaxgd.bench.tuning import OptimizerSpec, tune

SETTINGS = {
    "optimizers": ["sgd", "momentum"],
    "problems": ["ravine10", "noisy_beale"],
    "steps": 40,
    "figures": False,
    "timing": False,
    "second_order": (),
}


class Stop(Exception):
    pass


def _stop_after(n):
    def progress(i, total, text):
        if i == n:
            raise Stop

    return progress


def _without_times(board):
    return json.loads(json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in board["rows"]]))


def test_resumed_bench_equals_uninterrupted(tmp_path):
    whole = bench(tmp_path / "whole", **SETTINGS)
    with pytest.raises(Stop):
        bench(tmp_path / "cut", progress=_stop_after(1), **SETTINGS)
    assert len(list((tmp_path / "cut" / "tunings").glob("*.npz"))) == 1  # ravine10, both optimizers
    resumed = bench(tmp_path / "cut", **SETTINGS)
    assert _without_times(resumed) == _without_times(whole)
    assert resumed["summary"] == whole["summary"]
    saved = json.loads((tmp_path / "cut" / "leaderboard.json").read_text())
    assert saved["order"] == whole["order"] and (tmp_path / "cut" / "leaderboard.md").exists()
    profiles = json.loads((tmp_path / "cut" / "profiles.json").read_text())
    assert set(profiles["deterministic"]) == set(profiles["stochastic"]) == {"0.1", "0.001", "1e-06"}
    assert profiles["deterministic"]["0.001"]["problems"] == ["ravine10"]
    # runs computed: 36 rates on ravine10, 36 x 3 seeds on noisy_beale, for each optimizer; resumed: noisy_beale
    assert whole["timing"]["phases"]["tuning"]["runs"] == 2 * (36 + 36 * 3)
    assert saved["timing"]["phases"]["tuning"]["runs"] == 2 * 36 * 3


def test_digits_network_tiny():
    from jaxgd.bench import suite, tuning

    task = suite.digits_mlp(hidden=4)
    assert task.name in suite.registry() and task.loss.n == 1438  # the 80% training split of 1797
    before = tuning._stochastic_runs._cache_size()
    for lrs in ([1e-2, 1e-1], [1e-3, 1.0]):
        t = tune(suite.OPTIMIZERS["sgd"], task.loss, 10, lrs=lrs, seeds=2, batch_size=8, accuracy=task.accuracy)
        assert t.accuracy.shape == (2, 2) and np.all((0 <= t.accuracy) & (t.accuracy <= 1))
    assert tuning._stochastic_runs._cache_size() == before + 1  # rates x seeds in one compiled call, reused


def test_a_file_of_another_computation_is_refused(tmp_path):
    p = jaxgd.problems.beale()
    noisy = jaxgd.stochastic.noisy_gradient(p, 0.1)
    path = tmp_path / "t.npz"
    spec = OptimizerSpec("sgd", jaxgd.sgd)
    first = tune(spec, noisy, 30, lrs=[1e-3, 1e-2], seeds=2, x0=p.x0, out=path)
    again = tune(spec, noisy, 30, lrs=[1e-3, 1e-2], seeds=2, x0=p.x0, out=path)
    np.testing.assert_array_equal(first.final_gap, again.final_gap)
    with pytest.raises(ValueError, match="another computation"):
        tune(spec, noisy, 30, lrs=[1e-3, 1e-1], seeds=2, x0=p.x0, out=path)


def test_command_line(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="jaxgd")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "bench",
            "--problems",
            "ravine10",
            "--optimizers",
            "sgd",
            "adam",
            "--steps",
            "30",
            "--no-figures",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    assert args.func(args) == 0
    assert "| sgd |" in capsys.readouterr().out
    bad = parser.parse_args(["bench", "--problems", "nope", "--quiet", "--out", str(tmp_path)])
    assert bad.func(bad) == 2
    assert "unknown problems" in capsys.readouterr().err
