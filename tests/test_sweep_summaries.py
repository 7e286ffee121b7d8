"""jaxgd.sweep's summaries: only those asked for are computed, the others are None and named when needed; the
final-only loop gives the default's final losses; target steps are a run's first steps to f - f* <= tau (f0 - f*);
a sweep file records its summaries."""

import dataclasses

import numpy as np
import pytest
from test_sweep_files import no_compile, stop_after

import jaxgd
from jaxgd import stochastic as st
from jaxgd import sweeps as S

RAVINE = jaxgd.problems.ravine(50.0)  # f = x1^2 + 50 x2^2 from (4, 0.5): GD diverges for lr > 0.02
LRS = [0.005, 0.012, 0.0195, 0.021]
STEPS = 120
F_STAR = 1.5
TAUS = [0.3, 1e-2, 1e-5]


def lifted(x):
    """The ravine lifted by f* = 1.5, a plain loss: its f* must be given."""
    return x[0] ** 2 + 50.0 * x[1] ** 2 + F_STAR


@pytest.fixture(scope="module")
def default_and_final():
    space = {"learning_rate": LRS}
    full = S.sweep(jaxgd.sgd, RAVINE, space, STEPS, curve_every=30)
    return full, S.sweep(jaxgd.sgd, RAVINE, space, STEPS, summaries="final")


def test_final_only_gives_the_final_losses_of_the_default_and_nothing_else(default_and_final):
    full, final = default_and_final
    assert full.summaries == ("final", "best", "diverged", "grad_norm", "curve") and final.summaries == ("final",)
    for name in ("best_loss", "final_grad_norm", "tol_step", "diverge_step", "target_steps", "curve"):
        assert getattr(final, name) is None, name
    assert list(final.diverged) == list(full.diverged) == [False, False, False, True]
    ok = ~full.diverged
    # Another compiled loop: XLA:CPU contracts its multiply-adds by its own choice (as between chunk sizes), so
    # the numbers agree to float32 rounding, not bitwise.
    np.testing.assert_allclose(final.final_loss, full.final_loss, rtol=1e-6)
    np.testing.assert_allclose(final.final_params[ok], full.final_params[ok], rtol=1e-6)
    assert final.final_loss[~ok] == np.inf  # its final loss is bad; its final iterate is x_T, not x_{d-1}:
    assert np.abs(final.final_params[~ok]).max() > np.abs(full.final_params[~ok]).max()
    assert final.best().index == full.best().index == 2
    plain = S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": LRS}, STEPS, curve_every=30, summaries=("final", "curve"))
    np.testing.assert_allclose(plain.curve, full.curve, rtol=1e-6)  # NaN at the same points: from the blow-up on
    assert np.isnan(plain.curve[3, -2:]).all() and not np.isnan(plain.curve[:3]).any()


def test_a_summary_not_computed_is_named_when_asked_for(default_and_final):
    full, final = default_and_final
    with pytest.raises(ValueError, match=r"the summary 'best' \(best_loss\) was not computed: this sweep computed "):
        final.best(by="best_loss")
    with pytest.raises(ValueError, match=r"'tol' \(tol_step\) was not computed.*summaries=\(\.\.\., 'tol'\)"):
        full.summary("tol")
    np.testing.assert_array_equal(full.summary("diverged"), full.diverge_step)
    blind = dataclasses.replace(final, final_loss=None, summaries=())
    with pytest.raises(ValueError, match="which runs diverged is known from the summary 'diverged' or 'final'"):
        _ = blind.diverged


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(summaries=("final", "bestt")), r"unknown summaries 'bestt': the summaries are final, best, diverged, "),
        (dict(summaries="tol"), r"the summary 'tol' needs tol=\.\.\."),
        (dict(summaries="final", tol=0.1), r"tol is given but summaries=\('final',\) does not ask for 'tol'"),
        (dict(summaries=("final", "curve")), r"the summary 'curve' needs curve_every=\.\.\."),
        (dict(summaries="targets"), r"the summary 'targets' needs targets=\.\.\."),
        (dict(targets=[0.1, -1.0]), r"targets must be a non-empty sequence of finite taus >= 0"),
        (dict(f_star=0.0), r"f_star is for targets"),
        (dict(summaries=(), keep_params=False), r"nothing would be kept"),
    ],
)
def test_bad_summaries_are_refused_before_compiling(monkeypatch, kwargs, match):
    no_compile(monkeypatch)
    with pytest.raises(ValueError, match=match):
        S.sweep(jaxgd.sgd, RAVINE, {"learning_rate": LRS}, STEPS, **kwargs)


def test_targets_need_f_star_from_the_problem_or_the_caller(monkeypatch):
    no_compile(monkeypatch)
    with pytest.raises(ValueError, match=r"targets need f\*, the minimum: give f_star="):
        S.sweep(jaxgd.sgd, lifted, {"learning_rate": LRS}, STEPS, x0=RAVINE.x0, targets=TAUS)


def test_target_steps_are_each_runs_first_steps_to_the_relative_targets(tmp_path, monkeypatch):
    kwargs = dict(x0=RAVINE.x0, summaries=("diverged", "tol", "targets"), tol=1.6, targets=TAUS, f_star=F_STAR)
    space, out = S.grid(learning_rate=LRS, momentum=[0.5]), tmp_path / "targets.npz"
    stop_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(jaxgd.momentum, lifted, space, STEPS, chunk_size=2, out=out, **kwargs)
    monkeypatch.undo()
    res = S.sweep(jaxgd.momentum, lifted, space, STEPS, chunk_size=2, out=out, **kwargs)
    assert res.done and res.final_loss is None and res.target_steps.shape == (4, 3)
    assert res.info["targets"] == TAUS and res.info["f_star"] == [F_STAR]
    for i, lr in enumerate(LRS):
        loss = np.asarray(jaxgd.run(jaxgd.momentum(lr, 0.5), lifted, RAVINE.x0, STEPS).loss)  # float32, as the sweep
        gap, f_star = loss - np.float32(F_STAR), np.float32(F_STAR)
        for k, tau in enumerate(TAUS):
            hit = np.flatnonzero(gap <= np.float32(tau) * (loss[0] - f_star))
            assert res.target_steps[i, k] == (hit[0] if hit.size and not res.diverged[i] else -1), (lr, tau)
        hit = np.flatnonzero(loss <= np.float32(1.6))
        assert res.tol_step[i] == (hit[0] if hit.size else -1)
    assert (res.target_steps[:, :2] > 0).all() and res.target_steps[0, 2] == -1  # some reached, one not
    loaded = S.SweepResult.load(out)  # the finished file, resumed after its first chunk
    assert loaded.summaries == res.summaries and loaded.best_loss is None
    np.testing.assert_array_equal(loaded.target_steps, res.target_steps)
    np.testing.assert_array_equal(loaded.diverge_step, res.diverge_step)
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=r"it differs from this call in its settings\."):
        S.sweep(jaxgd.momentum, lifted, space, STEPS, out=out, **{**kwargs, "summaries": ("final", "tol", "targets")})


def test_seeded_summaries_on_the_schedule_and_the_final_only_loop():
    noisy = st.noisy_gradient(jaxgd.problems.ravine(10.0), sigma=0.5)  # f* = 0
    lrs, steps, every, taus = np.float32([0.01, 0.05]), 40, 10, [0.5, 1e-2]
    kw = dict(x0=RAVINE.x0, seeds=2, curve_every=every, tol=2.0, targets=taus, summaries=("tol", "targets", "curve"))
    res = jaxgd.sweep(jaxgd.sgd, noisy, {"learning_rate": lrs}, steps, **kw)
    assert res.final_loss is None and res.target_steps.shape == (4, 2)
    for k, tau in enumerate(taus):  # the first evaluation step at each target, from the curve on the schedule
        hit = res.curve <= np.float32(tau) * res.curve[:, :1]
        np.testing.assert_array_equal(res.target_steps[:, k], np.where(hit.any(1), hit.argmax(1) * every, -1))
    hit = res.curve <= np.float32(2.0)
    np.testing.assert_array_equal(res.tol_step, np.where(hit.any(1), hit.argmax(1) * every, -1))
    assert (res.target_steps[:, 0] > 0).all() and (res.target_steps[:, 1] == [-1, -1, 30, 30]).all()
    final = jaxgd.sweep(jaxgd.sgd, noisy, {"learning_rate": lrs}, steps, x0=RAVINE.x0, seeds=2, summaries="final")
    np.testing.assert_allclose(final.final_loss, res.curve[:, -1], rtol=1e-6)  # f(x_T), from one loop of all steps
