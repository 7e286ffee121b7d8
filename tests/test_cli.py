"""The ``jaxgd`` command line: every command exits 0 and writes what it says; bad arguments exit non-zero naming
the valid choices; the console script itself runs. Also the dropout/over-fitting experiment's numbers.
"""

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import jaxgd
from jaxgd import cli, problems

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OPTIMIZERS = ("adadelta", "adagrad", "adam", "adamax", "momentum", "nadam", "nesterov", "rmsprop", "sgd")


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) > 2000


def strict_json(path: Path):
    """Read JSON that must be strict: an Infinity or NaN token fails the test."""

    def refuse(token):
        raise AssertionError(f"{path} holds the non-JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def sweep_file(out: Path, optimizer: str, problem: str, ext: str) -> Path:
    """The one ``sweep_OPTIMIZER_PROBLEM_HASH.EXT`` in ``out``."""
    (path,) = out.glob(f"sweep_{optimizer}_{problem}_*.{ext}")
    return path


def usage_error(capsys, argv) -> str:
    """Run argv, expect exit status 2 with a 'jaxgd COMMAND: error:' message; return stderr."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "error:" in captured.err
    return captured.err


# --------------------------------------------------------------------------- help and list


def test_help_explains_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("reproduce", "sweep", "analyze", "list"):
        assert command in out
    with pytest.raises(SystemExit) as exc:
        cli.main(["sweep", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "log:1e-4:1e-1:20" in out and "--problem" in out and "--optimizer" in out and "--param" in out


def test_list_names_every_problem_optimizer_and_experiment(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line.split(":", 1)[1] for line in out.splitlines() if ":" in line}
    assert set(lines["problems"].replace(",", " ").split()) == set(problems.REGISTRY)
    assert set(OPTIMIZERS) <= set(lines["optimizers"].replace(",", " ").split())
    assert "dropout_overfitting" in lines["experiments"] and "gd_quadratics" in lines["experiments"]
    assert "learning_rate, momentum" in out  # momentum's sweepable hyperparameters


def test_reproduce_list(capsys):
    assert cli.main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert names == cli.available_experiments()
    assert "dropout_overfitting" in names
    assert all(len(line.split(None, 1)) == 2 for line in out.splitlines() if line.strip())  # each has a summary


# --------------------------------------------------------------------------- analyze


def test_analyze_ravine50_kappa_and_bounds(capsys, tmp_path):
    path = tmp_path / "sub" / "ravine50.json"
    assert cli.main(["analyze", "ravine50", "--json", str(path), "--samples", "16"]) == 0
    out = capsys.readouterr().out
    assert "kappa                    50\n" in out
    assert "stability_bound          0.02\n" in out
    report = json.loads(path.read_text())
    assert report["problem"] == "ravine50" and report["dim"] == 2
    (minimizer,) = report["critical_points"]
    assert minimizer["kind"] == "minimum" and minimizer["x"] == [0.0, 0.0]
    # Hessian diag(2, 100): kappa = 50, 2/L = 0.02, eta* = 2/(L + mu), GD rate (k-1)/(k+1)
    assert minimizer["eigenvalues"] == pytest.approx([2.0, 100.0], rel=1e-6)
    assert minimizer["kappa"] == pytest.approx(50.0, rel=1e-6)
    assert minimizer["stability_bound"] == pytest.approx(0.02, rel=1e-6)
    assert minimizer["optimal_lr"] == pytest.approx(2 / 102, rel=1e-6)
    assert minimizer["gd_rate_at_optimal_lr"] == pytest.approx(49 / 51, rel=1e-6)
    # Polyak's heavy ball: eta = 4/(sqrt L + sqrt mu)^2, beta = ((sqrt k - 1)/(sqrt k + 1))^2, rate sqrt(beta)
    hb = minimizer["heavy_ball_optimal"]
    sk = math.sqrt(50.0)
    assert hb["learning_rate"] == pytest.approx(4 / (10 + math.sqrt(2)) ** 2, rel=1e-5)
    assert hb["momentum"] == pytest.approx(((sk - 1) / (sk + 1)) ** 2, rel=1e-5)
    assert hb["rate"] == pytest.approx((sk - 1) / (sk + 1), rel=1e-4)
    # the start (4, 0.5): f = 16 + 50/4, grad = (8, 50)
    assert report["start"]["f"] == pytest.approx(28.5, rel=1e-6)
    assert report["start"]["grad_norm"] == pytest.approx(math.hypot(8, 50), rel=1e-6)
    assert report["curvature_over_box"]["alpha_estimate"] == pytest.approx(2.0, rel=1e-5)
    assert report["curvature_over_box"]["beta_estimate"] == pytest.approx(100.0, rel=1e-5)


def test_analyze_rosenbrock_and_saddle(capsys, tmp_path):
    path = tmp_path / "rb.json"
    assert cli.main(["analyze", "rosenbrock", "--json", str(path), "--samples", "8"]) == 0
    (m,) = json.loads(path.read_text())["critical_points"]
    expected = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))  # Hessian at (1, 1), b = 100
    assert m["x"] == pytest.approx([1.0, 1.0]) and m["kind"] == "minimum"
    assert m["eigenvalues"] == pytest.approx(expected.tolist(), rel=1e-4)
    assert m["kappa"] == pytest.approx(expected[1] / expected[0], rel=1e-3)
    assert m["stability_bound"] == pytest.approx(2 / expected[1], rel=1e-4)
    capsys.readouterr()
    assert cli.main(["analyze", "strict_saddle", "--samples", "8"]) == 0
    out = capsys.readouterr().out
    assert "strict saddle" in out and "kappa" not in out.split("critical point")[-1]


# --------------------------------------------------------------------------- sweep


def test_sweep_one_parameter_matches_closed_form(capsys, tmp_path):
    lrs, steps = (0.005, 0.01, 0.019, 0.021), 50
    argv = ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--steps", str(steps), "--out", str(tmp_path)]
    argv += ["--param", "learning_rate=" + ",".join(map(str, lrs)), "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and "best: learning_rate=0.019" in out
    result = strict_json(sweep_file(tmp_path, "sgd", "ravine50", "json"))
    assert is_png(sweep_file(tmp_path, "sgd", "ravine50", "png"))
    assert result["hyperparameters"] == ["learning_rate"] and result["steps"] == steps
    assert [g[0] for g in result["grid"]] == pytest.approx(lrs)
    # GD on x1^2 + 50 x2^2 from (4, 0.5): f(x_T) = 16 (1 - 2 eta)^(2T) + 12.5 (1 - 100 eta)^(2T)
    expected = [16 * (1 - 2 * lr) ** (2 * steps) + 12.5 * (1 - 100 * lr) ** (2 * steps) for lr in lrs]
    assert result["final_loss"] == pytest.approx(expected, rel=1e-3)
    assert result["best"]["learning_rate"] == pytest.approx(0.019)
    assert result["theory_at_minimizer"]["stability_bound"] == pytest.approx(0.02, rel=1e-6)
    assert result["theory_at_minimizer"]["optimal_lr"] == pytest.approx(2 / 102, rel=1e-6)
    assert result["diverged"] == [False] * 4  # 50 steps at 0.021: |1 - 2.1|^100 ~ 1.4e4, finite but growing
    assert result["final_loss"][3] > result["final_loss"][0] > result["final_loss"][1] > result["final_loss"][2]


def test_sweep_two_parameters_writes_a_heatmap(capsys, tmp_path):
    argv = ["sweep", "--problem", "ravine10", "--optimizer", "momentum", "--steps", "30", "--out", str(tmp_path)]
    argv += ["--param", "learning_rate=log:1e-3:1e-1:4", "--param", "momentum=lin:0:0.9:3", "--quiet"]
    assert cli.main(argv) == 0
    assert "12 runs" in capsys.readouterr().out
    result = strict_json(sweep_file(tmp_path, "momentum", "ravine10", "json"))
    assert is_png(sweep_file(tmp_path, "momentum", "ravine10", "png"))
    grid = np.array(result["grid"])
    assert grid.shape == (12, 2)
    assert sorted(set(grid[:, 0])) == pytest.approx(np.geomspace(1e-3, 1e-1, 4))
    assert sorted(set(grid[:, 1])) == pytest.approx([0.0, 0.45, 0.9])
    i = result["best"]["index"]
    assert result["final_loss"][i] == min(v for v in result["final_loss"] if v is not None)


def sweep_argv(out: Path, steps: int, *extra: str) -> list[str]:
    return ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--steps", str(steps), "--out", str(out), *extra]


def test_a_different_sweep_never_destroys_an_earlier_one(capsys, tmp_path):
    assert cli.main(sweep_argv(tmp_path, 30, "--quiet")) == 0
    (long_npz,) = tmp_path.glob("*.npz")
    long_bytes, long_json = long_npz.read_bytes(), long_npz.with_suffix(".json").read_text()
    assert cli.main(sweep_argv(tmp_path, 3, "--quiet")) == 0  # another sweep, same folder: its own files
    assert "replacing" not in capsys.readouterr().err
    assert len(list(tmp_path.glob("*.npz"))) == len(list(tmp_path.glob("*.json"))) == 2
    assert long_npz.read_bytes() == long_bytes and long_npz.with_suffix(".json").read_text() == long_json
    assert jaxgd.SweepResult.load(long_npz).steps == 30
    (short_npz,) = set(tmp_path.glob("*.npz")) - {long_npz}
    assert jaxgd.SweepResult.load(short_npz).steps == 3
    short_bytes = short_npz.read_bytes()
    assert cli.main(sweep_argv(tmp_path, 3, "--quiet")) == 0  # the same sweep again: reuses its finished file
    assert short_npz.read_bytes() == short_bytes and len(list(tmp_path.glob("*.npz"))) == 2


def test_a_file_of_another_computation_is_refused_unless_force(capsys, tmp_path):
    assert cli.main(sweep_argv(tmp_path, 3, "--quiet")) == 0
    ours = sweep_file(tmp_path, "sgd", "ravine50", "npz")
    other = tmp_path / "other"
    assert cli.main(sweep_argv(other, 5, "--quiet")) == 0
    foreign = sweep_file(other, "sgd", "ravine50", "npz").read_bytes()
    ours.write_bytes(foreign)  # a file of another computation under this sweep's name
    capsys.readouterr()
    err = usage_error(capsys, sweep_argv(tmp_path, 3, "--quiet"))
    assert "--force" in err and str(ours) in err and len(err.strip().splitlines()) == 1
    assert ours.read_bytes() == foreign  # untouched
    assert cli.main(sweep_argv(tmp_path, 3, "--quiet", "--force")) == 0
    assert "replacing" in capsys.readouterr().err and jaxgd.SweepResult.load(ours).steps == 3
    stray = ours.with_suffix(".json")
    stray.write_text('{"sweep_id": "someone else"}')
    assert "--force" in usage_error(capsys, sweep_argv(tmp_path, 3, "--quiet"))
    stray.unlink()
    stray.mkdir()  # a folder where the sweep writes a file: refused even with --force
    assert "not a file" in usage_error(capsys, sweep_argv(tmp_path, 3, "--quiet", "--force"))


def test_every_run_diverged_is_said_and_the_json_is_strict(capsys, tmp_path):
    assert cli.main(sweep_argv(tmp_path, 50, "--quiet", "--param", "learning_rate=0.03,0.05")) == 0
    out = capsys.readouterr().out
    assert "every run diverged" in out and "best:" not in out
    result = strict_json(sweep_file(tmp_path, "sgd", "ravine50", "json"))
    assert result["all_diverged"] is True and result["best"] is None
    assert result["diverged"] == [True, True] and result["final_loss"] == [None, None]


@pytest.mark.parametrize(
    "text, name, values",
    [
        ("learning_rate=0.1,0.2", "learning_rate", [0.1, 0.2]),
        ("momentum=lin:0:0.5:3", "momentum", [0.0, 0.25, 0.5]),
        ("learning_rate=log:1e-3:1e-1:3", "learning_rate", [1e-3, 1e-2, 1e-1]),
    ],
)
def test_parse_param(text, name, values):
    got_name, got, _ = cli.parse_param(text)
    assert got_name == name and got == pytest.approx(values)


# --------------------------------------------------------------------------- bad arguments


def test_unknown_problem_lists_the_valid_ones(capsys):
    for argv in (["analyze", "nope"], ["sweep", "--problem", "nope", "--optimizer", "sgd"]):
        err = usage_error(capsys, argv)
        assert "unknown problem 'nope'" in err
        assert all(name in err for name in problems.REGISTRY)


def test_unknown_optimizer_lists_the_valid_ones(capsys):
    err = usage_error(capsys, ["sweep", "--problem", "ravine50", "--optimizer", "adamw_typo"])
    assert "unknown optimizer 'adamw_typo'" in err
    assert all(name in err for name in OPTIMIZERS)


def test_unknown_experiment_lists_the_valid_ones(capsys, tmp_path):
    err = usage_error(capsys, ["reproduce", "no_such_figure", "--small", "--out", str(tmp_path / "r")])
    assert "no_such_figure" in err
    assert all(name in err for name in cli.available_experiments())
    assert not (tmp_path / "r").exists()  # nothing ran


def test_unknown_hyperparameter_lists_the_valid_ones(capsys):
    err = usage_error(capsys, ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--param", "momentum=0.9"])
    assert "'momentum'" in err and "valid: learning_rate" in err


@pytest.mark.parametrize(
    "spec, message",
    [
        ("learning_rate=log:0:1:5", "positive bounds"),
        ("learning_rate=log:1e-3:1e-1:0", ">= 1"),
        ("learning_rate=lin:a:b:3", "cannot read range"),
        ("learning_rate=0.1,fast", "cannot read range"),
        ("learning_rate=", "no values"),
        ("learning_rate=0.1,inf", "finite"),
        ("learning_rate", "NAME=SPEC"),
    ],
)
def test_bad_range_exits_with_a_message(capsys, spec, message):
    err = usage_error(capsys, ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--param", spec])
    assert message in err


def test_a_value_the_optimizer_rejects_is_a_usage_error(capsys):
    argv = ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--param", "learning_rate=-1,0.1"]
    err = usage_error(capsys, argv)
    assert "optimizer 'sgd'" in err and "learning_rate" in err


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("paths") / "a_file"
    path.write_text("not a folder")
    return path


SGD = ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--steps", "3", "--quiet"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*SGD, "--param", "learning_rate=-0.01"], "learning_rate must be positive"),
        ([*SGD, "--optimizer", "momentum", "--param", "learning_rate=0.01", "--param", "momentum=1.0"], "momentum"),
        ([*SGD, "--optimizer", "adam", "--param", "learning_rate=0.01", "--param", "eps=0"], "eps"),
        ([*SGD, "--param", "learning_rate=log:nan:1:3"], "finite bounds"),
        ([*SGD, "--param", "learning_rate=lin:0:inf:3"], "finite bounds"),
        (["analyze", "ravine50", "--samples", "0"], "--samples"),
        (["analyze", "ravine50", "--samples", "4", "--json", "{file}/x.json"], "is a file"),
        (["analyze", "ravine50", "--samples", "4", "--json", "{dir}"], "is a folder"),
        ([*SGD, "--out", "{file}"], "is a file"),
        ([*SGD, "--out", "{file}/sub"], "is a file"),
        (["reproduce", "gd_quadratics", "--small", "--out", "{file}"], "is a file"),
    ],
)
def test_every_user_error_is_one_line_and_exit_2(capsys, a_file, argv, message):
    argv = [a.format(file=a_file, dir=a_file.parent) for a in argv]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = usage_error(capsys, argv)
    assert not caught, [str(w.message) for w in caught]
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"jaxgd {argv[0]}: error:"), err
    assert message in err
    assert a_file.read_text() == "not a folder"


def test_reproduce_with_no_experiments_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXGD_EXPERIMENTS", str(tmp_path))
    assert cli.main(["reproduce", "--small", "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "no experiments found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_experiment_scripts_take_the_options_of_reproduce():
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_experiment_options(parser)
    args = parser.parse_args(["--out", "somewhere", "--small"])
    assert args.out == "somewhere" and args.small is True
    rep = cli.build_parser().parse_args(["reproduce", "--small"])
    assert (rep.out, rep.small) == (parser.parse_args([]).out, True)


def test_bad_steps_and_argparse_errors(capsys):
    err = usage_error(capsys, ["sweep", "--problem", "ravine50", "--optimizer", "sgd", "--steps", "0"])
    assert "--steps" in err
    for argv in ([], ["frobnicate"], ["sweep", "--optimizer", "sgd"], ["sweep", "--problem", "ravine50"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code != 0
        assert "usage:" in capsys.readouterr().err


# --------------------------------------------------------------------------- the console script


def test_console_script_runs_in_a_subprocess(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    module = subprocess.run(
        [sys.executable, "-m", "jaxgd.cli", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert module.returncode == 0, module.stderr
    assert "reproduce" in module.stdout and "analyze" in module.stdout
    script = Path(sys.executable).parent / ("jaxgd.exe" if os.name == "nt" else "jaxgd")
    assert script.is_file(), "the jaxgd console script is not installed next to the interpreter"
    bad = subprocess.run([str(script), "analyze", "nope"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert "unknown problem 'nope'" in bad.stderr and "ravine50" in bad.stderr
    ok = subprocess.run([str(script), "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ravine50" in ok.stdout and "dropout_overfitting" in ok.stdout


# --------------------------------------------------------------------------- reproduce (dropout and over-fitting)


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """``reproduce`` of one quick experiment (the dropout numbers are checked in test_experiments)."""
    out = tmp_path_factory.mktemp("reproduce")
    assert cli.main(["reproduce", "nesterov_ravine", "--small", "--out", str(out)]) == 0
    return out


def test_reproduce_writes_figures_numbers_and_index(one_run, capsys):
    summary = json.loads((one_run / "nesterov_ravine.json").read_text())
    assert summary["experiment"] == "nesterov_ravine" and summary["small"] is True
    assert set(summary["outputs"]) == {"nesterov_paths.png", "nesterov_loss.png", "nesterov_ravine.csv",
                                       "nesterov_ravine.json"}  # fmt: skip
    assert is_png(one_run / "nesterov_paths.png")
    index = (one_run / "index.md").read_text()
    assert "`nesterov_ravine`" in index and "![nesterov_paths.png](nesterov_paths.png)" in index
    assert "gd_quadratics" not in index  # only what ran
    csv_rows = (one_run / "nesterov_ravine.csv").read_text().splitlines()
    assert csv_rows[0].count(",") >= 2 and len(csv_rows) > 1


def test_reproduce_keeps_going_past_a_failing_experiment(tmp_path, monkeypatch, capsys):
    exp = tmp_path / "experiments"
    exp.mkdir()
    (exp / "broken.py").write_text(
        '"""Raises."""\nORDER = 1\n\n\ndef main(out, small=False):\n    raise RuntimeError("boom")\n'
    )
    (exp / "fine.py").write_text(
        '"""Writes its JSON."""\nimport json, pathlib\nORDER = 2\n\n\ndef main(out, small=False):\n'
        '    s = {"experiment": "fine", "title": "Fine", "small": small, "outputs": {}, "findings": ["ok."]}\n'
        '    (pathlib.Path(out) / "fine.json").write_text(json.dumps(s))\n'
    )
    monkeypatch.setenv("JAXGD_EXPERIMENTS", str(exp))
    out = tmp_path / "out"
    assert cli.main(["reproduce", "--small", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "boom" in err and "1 experiment(s) failed: broken" in err
    index = (out / "index.md").read_text()
    assert "- **Fine**: ok." in index and "broken" not in index
