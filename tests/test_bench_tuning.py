"""Tuning picks the known best rate; hypergradients against finite differences; hypergradient descent's equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd.bench.hypergradient_descent import adam_hd, sgd_hd
from jaxgd.bench.hypergradients import gradient_tune, hypergradient, run_loss
from jaxgd.bench.tuning import OptimizerSpec, Rule, choose, tune, tune_many


def test_tuning_picks_eta_star_on_a_quadratic():
    # final loss after many steps is smallest at eta* = 2 / (lambda_max + lambda_min)
    with jax.enable_x64(True):
        p = jaxgd.problems.general_quadratic(jnp.array([1.0, 10.0]))
        lrs = np.geomspace(0.05, 0.5, 41)
        t = tune(OptimizerSpec("sgd", jaxgd.sgd), p, 200, lrs=lrs)
        eta_star = 2 / 11
        spacing = lrs[1] / lrs[0]
        assert 1 / spacing <= t.best["learning_rate"] / eta_star <= spacing
        # several optimizers in one program: sgd and heavy ball with beta in {0, 0.5}, selected per run
        specs = [OptimizerSpec("sgd", jaxgd.sgd), OptimizerSpec("hb", jaxgd.momentum, {"momentum": (0.0, 0.5)})]
        by_steps, hb = tune_many(specs, p, 200, lrs=lrs, rule=Rule("steps", 1e-6))
        assert by_steps.scores[by_steps.chosen] == by_steps.steps_to_target[by_steps.chosen, 0, 2]
        np.testing.assert_allclose(by_steps.final_gap, t.final_gap, rtol=1e-9)  # sgd's own runs
        assert set(hb.hyperparams) == {"learning_rate", "momentum"} and set(by_steps.hyperparams) == {"learning_rate"}
        np.testing.assert_allclose(hb.final_gap[hb.hyperparams["momentum"] == 0], t.final_gap, rtol=1e-9)  # beta = 0
        assert by_steps.f_star == hb.f_star == 0.0 and hb.final_gap.shape == (82, 1)


def test_choose_rule_and_bad_input():
    gap = np.array([[1.0, 3.0], [2.0, 2.0], [np.inf, 0.0]])
    steps = np.array([[[5]], [[4]], [[-1]]]).repeat(2, axis=1)
    assert choose(gap, steps, np.array([1e-3]), Rule("final_loss"))[0] in (0, 1)
    assert choose(gap, steps, np.array([1e-3]), Rule("steps", 1e-3))[0] == 1
    with pytest.raises(ValueError, match="not one of the targets"):
        choose(gap, steps, np.array([1e-3]), Rule("steps", 0.5))
    with pytest.raises(ValueError, match=r"rule\.by"):
        choose(gap, steps, np.array([1e-3]), Rule("fast"))


@pytest.mark.parametrize("average", [False, True])
def test_hypergradient_against_finite_differences(average):
    with jax.enable_x64(True):
        p = jaxgd.problems.rosenbrock()
        hp = {"learning_rate": 1e-3, "momentum": 0.8}
        value, grad = hypergradient(jaxgd.momentum, p, hp, p.x0, 60, average=average, block=7)
        assert float(value) == pytest.approx(float(run_loss(jaxgd.momentum, p, hp, p.x0, 60, average=average)))
        for k in hp:
            e = 1e-6 * hp[k]  # relative step: L is strongly curved in the rate
            up, down = dict(hp), dict(hp)
            up[k] += e
            down[k] -= e
            fd = (
                run_loss(jaxgd.momentum, p, up, p.x0, 60, average=average)
                - run_loss(jaxgd.momentum, p, down, p.x0, 60, average=average)
            ) / (2 * e)
            assert float(grad[k]) == pytest.approx(float(fd), rel=1e-5)


def test_checkpointed_memory_grows_like_sqrt_steps():
    p = jaxgd.problems.rosenbrock(10)

    def temp_bytes(steps, block):
        f = jax.jit(jax.grad(lambda lr: run_loss(jaxgd.sgd, p, {"learning_rate": lr}, p.x0, steps, block=block)))
        return f.lower(1e-4).compile().memory_analysis().temp_size_in_bytes

    small, big = temp_bytes(400, None), temp_bytes(6400, None)  # sqrt(16) = 4: blocks of 20 -> 80
    assert big < 6 * small
    assert temp_bytes(6400, 6400) > 2 * big  # one block: no checkpointing, memory O(T)


def test_gradient_tune_reaches_near_eta_star():
    p = jaxgd.problems.ravine(10.0)
    r = gradient_tune(jaxgd.sgd, p, p.x0, 100, learning_rate=1e-3, iterations=25, meta_lr=0.3)
    assert float(r.losses.min()) < 0.05 * float(r.losses[0])  # the average loss over the run
    assert 0.03 < r.best < 0.1  # 2 / lambda_max = 0.1


def test_sgd_hd_follows_the_paper_equations():
    p = jaxgd.problems.ravine(10.0)
    alpha, beta = 1e-3, 1e-4
    opt = sgd_hd(alpha, beta)
    x, state, g_prev = p.x0, opt.init(p.x0), jnp.zeros(2)
    for _ in range(5):
        g = jax.grad(p)(x)
        alpha = alpha + beta * jnp.dot(g, g_prev)  # alpha_t = alpha_{t-1} + beta g_t . g_{t-1}
        u, state = opt.update(g, state, x)
        np.testing.assert_allclose(u, -alpha * g, rtol=1e-6)
        np.testing.assert_allclose(state.learning_rate, alpha, rtol=1e-6)
        x, g_prev = x + u, g


def test_adam_hd_follows_the_paper_equations():
    p = jaxgd.problems.ravine(10.0)
    alpha, beta = 1e-2, 1e-3
    hd, adam = adam_hd(alpha, beta), jaxgd.adam(1.0)
    x, s_hd, s_adam, d_prev = p.x0, hd.init(p.x0), adam.init(p.x0), jnp.zeros(2)
    for _ in range(5):
        g = jax.grad(p)(x)
        d, s_adam = adam.update(g, s_adam, x)  # d = -m_hat / (sqrt(v_hat) + eps)
        alpha = alpha + beta * jnp.dot(g, -d_prev)
        u, s_hd = hd.update(g, s_hd, x)
        np.testing.assert_allclose(u, alpha * d, rtol=1e-5)
        x, d_prev = x + u, d
    assert jax.tree.leaves(hd) == [1e-2, 1e-3, 0.9, 0.999, 1e-8]  # a pytree of its hyperparameters


def test_accuracy_by_hand_and_inside_the_tuning():
    from jax.tree_util import Partial

    from jaxgd.bench.suite import _logistic_accuracy

    z, y = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), jnp.array([1, 1, 0])
    # logits z w = (1, -2, -1): classes (1, 0, 0) against (1, 1, 0): 2 of 3 right
    assert float(_logistic_accuracy(z, y, jnp.array([1.0, -2.0]))) == pytest.approx(2 / 3)
    # one full-batch step from w = 0 on labels s = (1, -1, -1): w_1 = eta/(2n) sum_i s_i z_i = (0, -eta/3)
    fs = jaxgd.stochastic.logistic_regression(0.1, z, jnp.array([1, 0, 0]))
    # test rows: logits (eta/3, -eta/3, eta/3, -eta/3): classes (1, 0, 1, 0) against (1, 0, 1, 1): 3 of 4
    test = Partial(_logistic_accuracy, jnp.array([[0.0, -1.0], [0.0, 1.0], [1.0, -1.0], [2.0, 1.0]]),
                   jnp.array([1, 0, 1, 1]))  # fmt: skip
    t = tune(OptimizerSpec("sgd", jaxgd.sgd), fs, 1, lrs=[3.0, 1e30], seeds=2, batch_size=None, accuracy=test)
    np.testing.assert_allclose(t.accuracy[0], [0.75, 0.75])
    assert np.all(np.isnan(t.accuracy[1])) and np.all(np.isinf(t.final_gap[1]))  # diverged: no accuracy
    with pytest.raises(ValueError, match="stochastic problems"):
        tune(OptimizerSpec("sgd", jaxgd.sgd), jaxgd.problems.ravine(10.0), 5, lrs=[0.1], accuracy=test)
