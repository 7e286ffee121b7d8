"""Every experiment runs at its small size (through ``jaxgd reproduce --small``), and its numbers agree with theory.

One module-scoped run of all experiments; each test then reads one experiment's JSON.
"""

import contextlib
import importlib.util
import io
import json
import math
import re

import numpy as np
import pytest

from jaxgd import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def refuse(token):
    raise AssertionError(f"not strict JSON: {token}")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """The results folder of ``jaxgd reproduce --small`` and what it printed."""
    out = tmp_path_factory.mktemp("results")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["reproduce", "--small", "--out", str(out)]) == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def results(reproduced):
    return reproduced[0]


def numbers(results, name):
    """An experiment's JSON, which must be strict (no Infinity or NaN tokens)."""
    return json.loads((results / f"{name}.json").read_text(), parse_constant=refuse)


def test_long_experiments_report_progress(reproduced):
    printed = reproduced[1]
    lines = [line for line in printed.splitlines() if line.startswith("  second_order_comparison: ")]
    assert len(lines) >= 4, printed  # --small: three problems, then the paths
    assert all(re.search(r" \(\d+\.\ds\)$", line) for line in lines), lines  # with the seconds elapsed
    start, done = printed.index("] second_order_comparison: "), printed.index("] second_order_comparison done")
    assert start < printed.index(lines[0]) < printed.index(lines[-1]) < done


def test_write_json_is_strict_and_report_progress_prints_at_once(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("experiments_common", cli.experiments_dir() / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    value = {"inf": float("inf"), "nan": np.float32("nan"), "row": np.array([1.5, -np.inf]), "ok": np.int64(3)}
    path = common.write_json(tmp_path / "x.json", value)
    expected = {"inf": None, "nan": None, "row": [1.5, None], "ok": 3}
    assert json.loads(path.read_text(), parse_constant=refuse) == expected
    report = common.Report(tmp_path, "slow_one", "Slow", small=True)
    report.progress("phase 2 of 3")
    assert re.fullmatch(r"  slow_one: phase 2 of 3 \(\d+\.\ds\)\n", capsys.readouterr().out)


def test_every_experiment_wrote_its_files_and_the_index(results):
    names = cli.available_experiments()
    assert len(names) >= 9
    index = (results / "index.md").read_text()
    for name in names:
        summary = numbers(results, name)
        assert summary["small"] is True and summary["experiment"] == name
        assert f"`{name}`" in index
        for filename, explanation in summary["outputs"].items():
            path = results / filename
            assert path.is_file() and path.stat().st_size > 0, filename
            assert explanation and f"[{filename}]({filename}): {explanation}" in index
            if filename.endswith(".png"):
                data = path.read_bytes()
                assert data[:8] == PNG_MAGIC and len(data) > 2000, filename
        assert any(f.endswith(".png") for f in summary["outputs"]), name
    assert not list(results.glob("*.tmp")) and not list(results.glob(".*.tmp"))
    # the summary at the top: every experiment states what it measured, in one line
    summary = index.split("## Summary\n", 1)[1].split("\n## ", 1)[0]
    for name in names:
        found = numbers(results, name)
        assert found["findings"], name
        assert f"- **{found['title']}**: " + " ".join(found["findings"]) in summary


def test_gd_quadratics_diverge_exactly_above_two_over_lambda_max(results):
    runs = numbers(results, "gd_quadratics")["results"]["runs"]
    assert {r["problem"] for r in runs} == {"isotropic", "ravine10", "ravine50"}
    for r in runs:
        bound = {"isotropic": 1.0, "ravine10": 0.1, "ravine50": 0.02}[r["problem"]]
        assert math.isclose(r["stability_bound"], bound, rel_tol=1e-6)
        assert r["diverged"] == (r["lr"] > bound), r
        # exact rate of ||x - x*||: max_i |1 - eta lambda_i|, measured on the same run
        assert math.isclose(
            r["predicted_rate"], max(abs(1 - r["lr"] * 2), abs(1 - r["lr"] * 2 * bound**-1)), rel_tol=1e-6
        )
        if abs(r["predicted_rate"] - 1) > 0.01:
            assert math.isclose(r["measured_rate"], r["predicted_rate"], rel_tol=2e-3), r
    r50 = {r["lr"]: r for r in runs if r["problem"] == "ravine50"}
    assert set(r50) == {0.001, 0.005, 0.01, 0.015, 0.019, 0.02, 0.021}
    assert r50[0.021]["diverged"] and not r50[0.019]["diverged"] and r50[0.019]["final_loss"] < 1e-6
    # at eta = 2/lambda_max the x2 coordinate flips sign forever: f -> 50 * 0.5^2 = 12.5
    assert math.isclose(r50[0.02]["final_loss"], 12.5, rel_tol=1e-2)
    # the summary line states the measured edge, computed from these runs
    findings = numbers(results, "gd_quadratics")["findings"]
    assert "On ravine50, GD diverged at eta = 0.021, not at 0.02; 2/lambda_max = 0.02." in findings
    assert "On ravine10, GD did not diverge at any eta up to 0.02; 2/lambda_max = 0.1." in findings


def test_momentum_stability_region_edge_on_the_ravine(results):
    runs = numbers(results, "momentum_ravine")["results"]["runs"]
    assert {r["momentum"] for r in runs} == {0.9, 0.5}
    for r in runs:
        assert math.isclose(r["stability_bound"], (2 + 2 * r["momentum"]) / 100)
        assert r["diverged"] == (r["lr"] > r["stability_bound"]), r
        if r["predicted_rate"] < 0.99:
            assert math.isclose(r["measured_rate"], r["predicted_rate"], rel_tol=5e-3), r
    at = {(r["momentum"], r["lr"]): r for r in runs}
    assert at[(0.5, 0.035)]["diverged"] and not at[(0.9, 0.035)]["diverged"]
    # underdamped heavy ball contracts at sqrt(b) whatever eta (complex roots)
    assert math.isclose(at[(0.9, 0.02)]["predicted_rate"], math.sqrt(0.9), rel_tol=1e-6)


def test_nesterov_rates_and_bound(results):
    res = numbers(results, "nesterov_ravine")["results"]
    assert math.isclose(res["stability_bound"], 3.8 / 2.8 / 100)
    for r in res["runs"]:
        assert r["diverged"] == (r["lr"] > res["stability_bound"]), r
        if r["predicted_rate"] < 0.99:
            assert math.isclose(r["measured_rate"], r["predicted_rate"], rel_tol=5e-3), r
        # the first step of the look-ahead form is (1 + mu) eta g
        np.testing.assert_allclose(r["first_step"], [-1.9 * r["lr"] * 8.0, -1.9 * r["lr"] * 50.0], rtol=1e-4)


def test_adaptive_first_step_is_eta_sign_g_and_adam_moves_at_most_eta_per_step(results):
    runs = numbers(results, "adaptive_ravine")["results"]["runs"]
    for r in runs:
        np.testing.assert_allclose(r["first_step"], r["first_step_expected"], rtol=1e-4)
        assert not r["diverged"]
    adam = {r["lr"]: r for r in runs if r["optimizer"] == "Adam"}
    # monotone gradients: |m_hat| <= sqrt(v_hat), so each coordinate moves at most eta per step
    r = adam[0.001]
    moved = np.abs(np.subtract(r["final_x"], [4.0, 0.5]))
    assert np.all(moved <= r["steps"] * 0.001 * (1 + 1e-4))
    adagrad = {r["lr"]: r["final_loss"] for r in runs if r["optimizer"] == "AdaGrad"}
    assert adagrad[0.5] < adagrad[0.05] < adagrad[0.005] < adagrad[0.001]  # AdaGrad's steps shrink: bigger eta wins


def test_rosenbrock_panels(results):
    res = numbers(results, "rosenbrock_panels")["results"]
    # Hessian of Rosenbrock [[1200 x^2 - 400 y + 2, -400 x], [-400 x, 200]] at (-1.5, 2) and at (1, 1)
    h0 = np.array([[1200 * 2.25 - 800 + 2, 600.0], [600.0, 200.0]])
    h1 = np.array([[802.0, -400.0], [-400.0, 200.0]])
    assert math.isclose(res["lambda_max_at_start"], np.linalg.eigvalsh(h0).max(), rel_tol=1e-5)
    np.testing.assert_allclose(res["eigenvalues_at_minimum"], np.linalg.eigvalsh(h1), rtol=1e-4)
    runs = res["runs"]
    assert len(runs) == 18
    optimizers = {r["optimizer"] for r in runs}
    assert optimizers == {"GD", "heavy ball 0.9", "heavy ball 0.5", "NAG 0.9", "AdaGrad", "Adam"}
    f0 = 100 * (2 - 2.25) ** 2 + 2.5**2
    for r in runs:
        if not r["diverged"]:
            assert r["final_loss"] < f0
    gd = sorted((r["lr"], r["final_loss"]) for r in runs if r["optimizer"] == "GD")
    assert [lr for lr, _ in gd] == pytest.approx([1e-5, 1e-4, 1e-3])
    # below the stability bound, a larger step gets further along the valley
    assert gd[0][1] > gd[1][1] > gd[2][1]


def test_schedule_comparison_noise_floor(results):
    runs = {r["schedule"]: r for r in numbers(results, "schedule_comparison")["results"]["runs"]}
    assert len(runs) >= 9
    const = [r for r in runs.values() if "predicted_final_mean_f" in r]
    assert len(const) == 2
    for r in const:  # exact E f(x_t) of noisy GD, 32 seeds
        assert math.isclose(r["final_mean_f"], r["predicted_final_mean_f"], rel_tol=0.2), r
    floor = runs["constant 0.05"]["predicted_floor"]
    assert math.isclose(floor, 0.05 / (2 * (2 - 0.1)) + 0.05 / (2 * (2 - 1.0)))
    for name in ("step decay (x0.5 every T/8)", "exponential (x0.01 over T)", "reduce on plateau (x0.5)"):
        assert runs[name]["final_mean_f"] < 0.5 * floor, name  # decaying the rate goes below the floor


def test_convergence_theory_table(results):
    rows = numbers(results, "convergence_theory")["results"]["rows"]
    assert any(r["problem"].startswith("random_kappa") for r in rows)
    for r in rows:
        kappa = r["kappa"]
        assert math.isclose(r["eta_star"], 2 / (r["lambda_max"] + r["lambda_min"]), rel_tol=1e-5)
        assert math.isclose(r["stability_bound"], 2 / r["lambda_max"], rel_tol=1e-5)
        assert math.isclose(r["gd_predicted_rate"], (kappa - 1) / (kappa + 1), rel_tol=1e-5, abs_tol=1e-6)
        q = math.sqrt(kappa)
        assert math.isclose(r["heavy_ball_predicted_rate"], (q - 1) / (q + 1), rel_tol=1e-5, abs_tol=1e-6)
        if kappa > 1.5:
            assert math.isclose(r["gd_measured_rate"], r["gd_predicted_rate"], rel_tol=0.01), r
            assert math.isclose(r["heavy_ball_measured_rate"], r["heavy_ball_predicted_rate"], rel_tol=0.05), r
            assert r["heavy_ball_measured_rate"] < r["gd_measured_rate"]  # acceleration
            assert r["nesterov_measured_rate"] <= r["nesterov_predicted_rate"] * 1.001  # NAG's bound holds
            assert r["gd_measured_iters"] <= r["gd_predicted_iters"]  # the worst case is an upper bound
    problems = {r["problem"]: r for r in rows}
    assert math.isclose(problems["ravine50"]["kappa"], 50, rel_tol=1e-6)
    assert math.isclose(problems["ravine50"]["eta_star"], 2 / 102, rel_tol=1e-6)


def test_sweep_theory_divergence_edge_and_closed_form(results):
    res = numbers(results, "sweep_theory")["results"]
    for name in ("isotropic", "ravine10", "ravine50"):
        r = res[name]
        assert r["largest_lr_not_growing"] <= r["stability_bound"] * (1 + 1e-6) < r["smallest_lr_growing"]
        final, theory = np.array(r["final_loss"], float), np.array(r["predicted_final_loss"], float)
        ok = (theory > 1e-30) & (theory < 1e6)
        np.testing.assert_allclose(final[ok], theory[ok], rtol=2e-2)
    grid = res["heavy_ball_grid"]
    assert grid["cells_off_edge"] > 50 and grid["cells_disagreeing_off_edge"] == 0
    stable = np.array(grid["predicted_stable"])
    lrs, momenta = np.array(grid["lrs"]), np.array(grid["momenta"])
    np.testing.assert_array_equal(stable, lrs[None, :] * 100 < 2 + 2 * momenta[:, None])


def test_saddle_escape_time_is_logarithmic(results):
    res = numbers(results, "saddle_escape")["results"]
    assert res["classification"] == "strict saddle"
    assert res["gd_from_stable_subspace_final_distance"] < 1e-10  # converges to the saddle from x2 = 0
    runs = res["runs"]
    gd = [r for r in runs if r["optimizer"].startswith("GD")]
    hb = [r for r in runs if r["optimizer"].startswith("heavy ball")]
    adam = [r for r in runs if r["optimizer"].startswith("Adam")]
    assert len(gd) == len(hb) == len(adam) >= 5
    for r in gd:
        assert r["escape_step"] == r["predicted_exact"] == math.ceil(math.log(1 / r["delta"]) / math.log(1.1) - 1e-9)
    for g, h in zip(gd, hb):
        assert 0 < h["escape_step"] < g["escape_step"]
        assert abs(h["escape_step"] - h["predicted_asymptotic"]) < 5  # growth rate = root of the companion matrix
    steps = [r["escape_step"] for r in adam]
    assert min(steps) > 0 and max(steps) - min(steps) <= 3  # Adam's escape hardly depends on delta


def test_random_search_tries_more_learning_rates_than_the_grid(results):
    best = numbers(results, "search_digits")["results"]["best"]
    n = numbers(results, "search_digits")["results"]["runs_per_strategy"]
    assert best["grid"]["runs"] == best["random"]["runs"] == n
    assert best["grid"]["distinct_learning_rates"] ** 2 == n
    assert best["random"]["distinct_learning_rates"] == n
    for strategy in ("grid", "random"):
        assert best[strategy]["val_accuracy"] > 0.9, best
        assert 1e-2 <= best[strategy]["learning_rate"] <= 10.0


def test_second_order_methods_beat_gd_and_newton_solves_the_quadratic_in_one_step(results):
    out = numbers(results, "second_order_comparison")["results"]
    runs = {(r["problem"], r["method"]): r for r in out["runs"]}
    assert runs[("ravine50", "newton")]["iterations"] == 1
    # GD at eta* on the ravine: ||grad|| shrinks by (kappa-1)/(kappa+1) per step, as predicted
    assert abs(runs[("ravine50", "gd")]["iterations"] - out["theory"]["gd_iterations_predicted"]) <= 2
    assert {r["problem"] for r in out["runs"]} == {"ravine50", "rosenbrock", "logistic"}  # --small: no rosenbrock10
    for problem in ("ravine50", "rosenbrock", "logistic"):
        for method in ("newton", "bfgs", "lbfgs", "nonlinear_cg", "newton_cg"):
            r = runs[(problem, method)]
            assert r["converged"] and r["grad_norm"] <= 1e-6, r
            assert r["iterations"] < runs[(problem, "gd")]["iterations"], r


def test_report_claim_rows_make_the_table_at_the_top_of_the_index(tmp_path):
    spec = importlib.util.spec_from_file_location("experiments_common", cli.experiments_dir() / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    report = common.Report(tmp_path, "gd_quadratics", "GD", small=True)
    report.claim("DD2424 L5", "GD diverges above 0.02", "diverged at 0.021, not at 0.02", True)
    report.claim("ST449", "rate |a|b", 0.316227, False)
    report.claim("SYS 6016", "undecided", "n/a", None)
    report.finding("A finding.")
    summary = report.finish()
    assert summary["claims"][1] == {"lecture": "ST449", "claim": "rate |a|b", "measured": "0.3162", "holds": False}
    index = cli.write_index(tmp_path).read_text()
    table = index.split("## Lecture claims against measurement\n", 1)[1]
    assert index.index("## Lecture claims") < index.index("## Summary")
    rows = [line for line in table.splitlines() if line.startswith("| `gd_quadratics`")]
    assert rows == [
        "| `gd_quadratics` | DD2424 L5 | GD diverges above 0.02 | diverged at 0.021, not at 0.02 | yes |",
        "| `gd_quadratics` | ST449 | rate \\|a\\|b | 0.3162 | **no** |",
        "| `gd_quadratics` | SYS 6016 | undecided | n/a | - |",
    ]


def test_st449_momentum_rate_is_one_minus_sqrt_inverse_kappa(results):
    out = numbers(results, "convergence_theory")
    rows = [r for r in out["results"]["rows"] if r["kappa"] > 1.5]
    for r in rows:
        q = math.sqrt(1 / r["kappa"])
        assert math.isclose(r["st449_predicted_rate"], 1 - q, rel_tol=1e-9)
        assert math.isclose(r["st449_measured_rate"], math.sqrt((1 - q) / (1 + q)), rel_tol=1e-2), r  # exact
        if r["kappa"] >= 99:  # the claim, asymptotic in kappa: within a few %
            assert math.isclose(r["st449_measured_rate"], 1 - q, rel_tol=0.02), r
    claim = next(c for c in out["claims"] if c["lecture"] == "ST449")
    assert claim["holds"] is True


def test_lecture_errata_literal_forms_fail_and_the_adam_bound_is_exceeded(results):
    out = numbers(results, "lecture_errata")
    res = out["results"]
    assert res["adam_forms"]["correct_vs_jaxgd_adam_max_difference"] < 1e-4
    assert res["adam_forms"]["t_from_zero"]["first_nan_step"] == 1  # 0/0 at t = 0
    assert res["adam_forms"]["plus"]["final_loss"] > 10 * res["adam_forms"]["correct"]["final_loss"]
    bound = res["adam_bound"]
    assert math.isclose(bound["claimed_bound"], 0.1 / math.sqrt(0.001))
    assert math.isclose(bound["exact_worst_case"], 6.76, abs_tol=0.01)
    assert math.isclose(bound["measured_last_step"], bound["exact_worst_case"], rel_tol=1e-3)
    assert bound["measured_last_step"] > 2 * bound["claimed_bound"]  # the adversarial history exceeds the bound
    assert res["gd_bound"]["max_ratio_to_correct"] <= 1 < res["gd_bound"]["max_ratio_to_literal"]
    assert res["second_derivative_test"]["x1^2 + 50 x2^2 at 0"]["correct"] == "minimum"
    verdicts = {c["claim"]: c["holds"] for c in out["claims"]}
    assert verdicts["GD: f(x_t) - f* <= L ||x0 - x*||^2 / (2t)"] is True
    assert sum(v is False for v in verdicts.values()) == 6


def test_optimizer_comparison_every_optimizer_on_three_problems_and_the_race(results):
    out = numbers(results, "optimizer_comparison")
    names = {"SGD", "momentum 0.9", "NAG 0.9", "AdaGrad", "AdaDelta", "RMSProp", "RMSProp centred"}
    names |= {"RMSProp Nesterov", "Adam", "Nadam", "AdaMax"}
    for problem in ("ravine50", "rosenbrock", "logistic_breast_cancer"):
        best = out["results"][problem]["best"]
        assert set(best) == names
        assert all(not b["diverged"] and b["lr"] in out["results"][problem]["lrs"] for b in best.values())
        assert f"compare_{problem}.png" in out["outputs"]
    for name in ("Adam", "RMSProp"):  # at their best rates both get close to the optimum on logistic regression
        assert out["results"]["logistic_breast_cancer"]["best"][name]["tail_gap"] < 1e-2
    claim = next(c for c in out["claims"] if c["lecture"] == "Hildesheim")
    assert "Adam" in claim["measured"] and "RMSProp" in claim["measured"] and claim["holds"] in (True, False)
    from PIL import Image

    with Image.open(results / "race_rosenbrock.gif") as gif:
        assert gif.n_frames >= 8
    assert "![race_rosenbrock.gif](race_rosenbrock.gif)" in (results / "index.md").read_text()


def test_figures_are_written_at_100_dpi_or_more_and_the_index_opens_with_the_claims(results):
    from PIL import Image

    for name in ("rosenbrock_gd.png", "errata_adam_bound.png", "compare_rosenbrock.png"):
        with Image.open(results / name) as png:
            assert min(png.info["dpi"]) >= 100, name
    index = (results / "index.md").read_text()
    table = index.split("## Lecture claims against measurement\n", 1)[1].split("\n## ", 1)[0]
    assert index.index("## Lecture claims") < index.index("## Summary")
    for name in ("convergence_theory", "lecture_errata", "optimizer_comparison", "rosenbrock_panels"):
        assert f"| `{name}` |" in table, name
    assert "| ST449 | Adam's step |Delta x|" not in table  # pipes in cells are escaped


def test_convex_table_bounds_hold(results):
    r = numbers(results, "convex_table")["results"]
    assert len(r["table"]) == 13 and all(row["bound_holds"] == "yes" for row in r["table"])
    assert r["frank_wolfe_certificate"] and r["lasso_path"]["support_agreement"] == len(r["lasso_path"]["strengths"])


def test_stochastic_theory_matches_the_lectures(results):
    r = numbers(results, "stochastic_theory")["results"]
    thm, strong, nag = r["theorem"], r["strongly_convex"], r["nesterov"]
    assert thm["bound_holds"] and -0.6 < thm["slope_averaged"] < -0.3
    floors = strong["constant"]
    for row in floors:
        assert abs(row["measured_floor"] / row["exact_floor"] - 1) < 0.15
    assert [f["measured_floor"] for f in floors] == sorted((f["measured_floor"] for f in floors), reverse=True)
    assert strong["decaying_under_bound"]
    assert all(-1.2 < v["slope"] < -0.8 for v in strong["decaying"].values())
    assert nag["nesterov_1983_slope"] < -1.6


def test_variance_reduction_converges_linearly_and_the_knee_is_near_the_noise_scale(results):
    r = numbers(results, "variance_reduction")["results"]
    methods = r["race"]["methods"]
    assert methods["SVRG"]["epochs_to_target"] is not None and methods["SAGA"]["epochs_to_target"] is not None
    assert methods["SGD, constant eta"]["final_excess"] > 1e-4
    assert methods["full-batch GD, 1/beta"]["final_excess"] > 1e-4
    steps = [row["steps"] for row in r["batch_size"]["rows"]]
    assert steps[0] > steps[-1]
    assert 0.25 < r["batch_size"]["knee"] / r["batch_size"]["b_simple"] < 4


def test_dropout_and_l2_narrow_the_generalisation_gap(results):
    results = numbers(results, "dropout_overfitting")["results"]
    runs = {r["setting"]: r for r in results["runs"]}
    assert set(runs) == {"no regularisation", "dropout", "L2"}
    plain, dropout, l2 = runs["no regularisation"], runs["dropout"], runs["L2"]
    assert results["train_size"] == 100 and results["sizes"][0] == 64 and results["sizes"][-1] == 10
    # over-parameterised and unregularised: memorises the training set, generalises worse
    assert plain["train_accuracy"] == 1.0 and plain["train_loss"] < 0.02
    assert plain["val_accuracy"] < 0.95 and plain["loss_gap"] > 0.3
    for r in runs.values():
        curves = results["curves"][r["setting"]]
        assert len(curves["train_loss"]) == results["epochs"]
        assert r["loss_gap"] == pytest.approx(curves["val_loss"][-1] - curves["train_loss"][-1], rel=1e-6)
        assert r["loss_gap"] == pytest.approx(np.mean(r["loss_gap_per_seed"]), rel=1e-9)
        assert r["accuracy_gap"] == pytest.approx(r["train_accuracy"] - r["val_accuracy"], abs=1e-9)
        assert r["val_accuracy"] > 0.8
    # L2 keeps the training loss away from 0 (the penalty) and narrows both gaps, on every seed
    assert l2["train_loss"] > 3 * plain["train_loss"]
    assert max(l2["loss_gap_per_seed"]) < min(plain["loss_gap_per_seed"])
    assert l2["accuracy_gap"] < plain["accuracy_gap"]
    # dropout narrows both gaps on average and raises validation accuracy
    assert dropout["loss_gap"] < plain["loss_gap"]
    assert dropout["accuracy_gap"] < plain["accuracy_gap"]
    assert dropout["val_accuracy"] > plain["val_accuracy"]
    assert dropout["best_val_loss"] < plain["best_val_loss"]
