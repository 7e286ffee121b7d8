"""A sweep over seeds of a stochastic loss: its rows are jaxgd.stochastic.run's, its summaries the full objective's,
seed_stats is numpy's across seeds, bad input is refused before compiling, and a resume is bitwise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_sweep_files import stop_after  # stops a sweep after n chunks, as a kill would

import jaxgd
from jaxgd import stochastic as st
from jaxgd.sweeps import seeded

FS = st.logistic_regression(0.01)
MB = FS.minibatch(16)
LRS = np.asarray([0.05, 0.5, 2.0], np.float32)
STEPS, EVERY = 60, 10


def run_one(lr, key):
    return st.run(jaxgd.sgd(lr), MB, FS.x0, STEPS, key=key, eval_at=EVERY)


def sweep(**kw):
    kw = {"seeds": 2, "eval_every": EVERY, "curve_every": EVERY, **kw}
    return jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS}, STEPS, **kw)


def test_rows_are_the_stochastic_runs_with_the_same_keys():
    res = sweep()
    assert (res.num_runs, res.num_seeds) == (6, 2)
    np.testing.assert_array_equal(res.seed_index, [0, 1] * 3)
    keys = jnp.stack([jax.random.key(j) for j in range(2)])
    both = jax.jit(jax.vmap(jax.vmap(run_one, (None, 0)), (0, None)))(jnp.asarray(LRS), keys)
    # The same batches and steps; the sweep vmaps its seed axis outermost, another program than this nesting,
    # so the two agree to rounding (a different batch at any step would move the loss by far more).
    np.testing.assert_allclose(res.final_params, np.asarray(both.final_params).reshape(6, -1), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(res.curve, np.asarray(both.loss).reshape(6, -1), rtol=2e-6)
    np.testing.assert_array_equal(res.curve_steps, np.asarray(both.steps[0, 0]))


def test_one_run_sweep_is_the_stochastic_run_to_rounding_and_its_own_rerun_bitwise():
    key = jax.random.key(7)
    res = jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS[1:2]}, STEPS, seeds=key[None], curve_every=EVERY)
    tr = run_one(LRS[1], key)
    np.testing.assert_allclose(res.final_params[0], np.asarray(tr.final_params), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(res.curve[0], np.asarray(tr.loss), rtol=2e-6)
    again = jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS[1:2]}, STEPS, seeds=key[None], curve_every=EVERY)
    np.testing.assert_array_equal(again.curve, res.curve)
    np.testing.assert_array_equal(again.final_params, res.final_params)
    other = jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS[1:2]}, STEPS, seeds=jax.random.key(8)[None],
                        curve_every=EVERY)  # fmt: skip
    assert np.max(np.abs(other.curve[0, 1:] - res.curve[0, 1:])) > 1e-4  # another key draws other batches


def test_summaries_are_of_the_full_objective_on_the_schedule():
    res = sweep(keep_params=True)
    ok = ~res.diverged
    assert ok.any()
    np.testing.assert_array_equal(res.final_loss[ok], res.curve[ok, -1])
    np.testing.assert_array_equal(res.best_loss, np.nanmin(res.curve, axis=1))
    full = np.asarray(jax.vmap(FS)(jnp.asarray(res.final_params)))
    np.testing.assert_allclose(res.final_loss[ok], full[ok], rtol=1e-6)
    assert res.info["eval_every"] == EVERY and len(res.info["seeds"]) == 2


def test_divergence_is_taken_on_the_schedule_and_frozen_before_it():
    res = jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": [1e4]}, STEPS, seeds=2, eval_every=EVERY, blowup=10.0)
    assert res.diverged.all()
    assert np.all(res.diverge_step % EVERY == 0) and np.all(res.final_loss == np.inf)
    assert np.all(np.isfinite(res.final_params)) and np.all(np.isfinite(res.best_loss))


def test_seed_stats_against_numpy():
    res = jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": [0.1, 1.0, 1e4]}, STEPS, seeds=4, eval_every=EVERY, blowup=10.0)
    stats = res.seed_stats()
    div = res.diverged.reshape(3, 1, 1, 4)
    assert np.array_equal(stats.diverged, div.mean(3))
    for name in ("final_loss", "best_loss"):
        v = np.where(div, np.nan, getattr(res, name).reshape(3, 1, 1, 4).astype(float))
        for c in range(3):
            row = v[c, 0, 0][~np.isnan(v[c, 0, 0])]
            if row.size == 0:
                assert np.isnan(getattr(stats, name)["mean"][c, 0, 0])
                continue
            got = {k: a[c, 0, 0] for k, a in getattr(stats, name).items()}
            np.testing.assert_allclose(got["mean"], row.mean(), rtol=1e-12)
            np.testing.assert_allclose(got["std"], row.std(), rtol=1e-9, atol=1e-15)
            np.testing.assert_allclose([got["q10"], got["q50"], got["q90"]], np.quantile(row, [0.1, 0.5, 0.9]))
    scores = res.config_scores()
    med = np.median(np.where(res.diverged, np.inf, res.final_loss.astype(float)).reshape(3, 4), axis=1)
    assert np.isinf(med[2]) and np.isnan(stats.best_loss["q50"][2, 0, 0])
    np.testing.assert_array_equal(scores, med)
    assert res.best().index == int(np.argmin(med))


def test_a_stochastic_loss_needs_seeds_and_a_deterministic_one_takes_none():
    with pytest.raises(ValueError, match="needs seeds"):
        jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS}, STEPS)
    with pytest.raises(ValueError, match="deterministic"):
        jaxgd.sweep(jaxgd.sgd, FS, {"learning_rate": LRS}, STEPS, x0=FS.x0, seeds=2)
    with pytest.raises(TypeError, match="seeds must be"):
        jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS}, STEPS, seeds=[1, 2])
    with pytest.raises(ValueError, match="seeds"):
        jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS}, STEPS, seeds=0)
    with pytest.raises(ValueError, match="curve_every"):
        jaxgd.sweep(jaxgd.sgd, MB, {"learning_rate": LRS}, STEPS, seeds=2, eval_every=10, curve_every=20)


def test_resume_of_a_seeded_sweep_is_bitwise(tmp_path, monkeypatch):
    whole = sweep(chunk_size=2)
    out = tmp_path / "s"
    stop_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        sweep(chunk_size=2, out=out)
    monkeypatch.undo()
    calls = []
    real = seeded.sweep_chunk_seeded
    monkeypatch.setattr(seeded, "sweep_chunk_seeded", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = sweep(chunk_size=2, out=out)
    assert len(calls) == 2  # the first of three chunks came from the file
    loaded = jaxgd.SweepResult.load(out)
    for r in (resumed, loaded):
        assert r.num_seeds == 2
        for k in ("final_loss", "best_loss", "final_grad_norm", "diverge_step", "final_params", "curve"):
            np.testing.assert_array_equal(np.asarray(getattr(r, k)), np.asarray(getattr(whole, k)), err_msg=k)
    with pytest.raises(jaxgd.sweeps.SweepFileError, match="settings"):
        sweep(chunk_size=2, out=out, seeds=jnp.stack([jax.random.key(5), jax.random.key(6)]))


def test_a_noisy_problem_starts_at_the_problems_start():
    ravine = jaxgd.problems.ravine(50.0)
    noisy = st.noisy_gradient(ravine, 0.5)
    assert noisy.x0 is ravine.x0 and noisy.minimum == ravine.minimum
    res = jaxgd.sweep(jaxgd.sgd, noisy, {"learning_rate": [0.001, 0.01]}, 20, seeds=2, curve_every=10)
    np.testing.assert_allclose(res.curve[:, 0], float(ravine(ravine.x0)), rtol=1e-6)
    assert np.all(res.curve[:, -1] < res.curve[:, 0])
    leaves = jax.tree.leaves(jax.tree.map(lambda a: a, noisy))  # a pytree with the start among its leaves
    assert any(leaf is ravine.x0 or np.array_equal(leaf, ravine.x0) for leaf in leaves)
