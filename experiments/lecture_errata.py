"""Where a lecture's formula is wrong or cannot run as written: the literal form next to the correct one, measured.

* DD2424's Adam divides by 1 - beta^t with t starting at 0: the first step is
  0/0 (NaN) as written; the paper's t starts at 1.
* ST449's Adam uses lagged moments (the step at t uses m_{t-1}, v_{t-1}, not
  the moments that include g_t): the first step is 0/0 (NaN, and with eps 0 instead
  of eta sign(g)), and afterwards each step answers the previous gradient.
* SYS 6016's Adam adds the step (x <- x + eta m_hat / sqrt(v_hat)): gradient ascent.
* SYS 6016's second-derivative test swaps min and max (f'' > 0 called a maximum).
* DD2424's GD bound f(x_t) - f* <= L ||x_0 - x*|| / t lacks the 1/2 and the square of
  the correct L ||x_0 - x*||^2 / (2t) (eta = 1/L); it is not even invariant under
  scaling x, and from a start far enough away GD exceeds it.
* ST449's Adam step bound |step| <= eta (1 - b1)/sqrt(1 - b2) (3.16 eta at the
  defaults) is exceeded by an adversarial gradient history g_s ~ (b1/b2)^(t-s):
  the exact worst case over all histories is eta sqrt(sum_s a_s^2 / b_s), 6.76 eta
  after 2000 steps (a_s, b_s the weights of m_hat and v_hat).

The literal forms are written out here by hand (they are not jaxgd optimizers);
the correct hand-written Adam is checked against :func:`jaxgd.adam`.
"""

from __future__ import annotations

import numpy as np
from _common import Report

import jaxgd
from jaxgd import analysis, plot

ORDER = 95  # place in the index page
NAME = "lecture_errata"
TITLE = "Lecture formulas as written against the correct ones"
B1, B2, EPS = 0.9, 0.999, 1e-8
ADAM_FORMS = {
    "correct (Kingma & Ba: t from 1)": "correct",
    "DD2424 literal: 1 - beta^t with t from 0": "t_from_zero",
    "ST449 literal: lagged moments m_{t-1}, v_{t-1}": "lagged",
    "SYS 6016 literal: x + eta m_hat / sqrt(v_hat)": "plus",
}


def adam_by_hand(grad, x0, lr: float, steps: int, form: str) -> np.ndarray:
    """Adam's iterates x_0..x_steps in one of the forms of ADAM_FORMS' values (numpy, float64)."""
    x = np.asarray(x0, dtype=float).copy()
    m, v = np.zeros_like(x), np.zeros_like(x)
    path = [x.copy()]
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            g = np.asarray(grad(x), dtype=float)
            m_prev, v_prev = m, v
            m, v = B1 * m + (1 - B1) * g, B2 * v + (1 - B2) * g**2
            k = t - 1 if form == "t_from_zero" else t
            mm, vv = (m_prev, v_prev) if form == "lagged" else (m, v)
            kk = t - 1 if form == "lagged" else k
            step = lr * (mm / (1 - B1**kk)) / (np.sqrt(vv / (1 - B2**kk)) + EPS)
            x = x + step if form == "plus" else x - step
            path.append(x.copy())
    return np.array(path)


def adam_forms(report: Report, small: bool) -> dict:
    """The four Adam forms on the ravine at eta = 0.01: loss curves, and the correct one against jaxgd.adam."""
    import jax

    problem = jaxgd.problems.ravine(50.0)
    lr, steps = 0.01, 200 if small else 1000
    grad = jax.jit(jax.grad(problem))
    paths = {label: adam_by_hand(grad, problem.x0, lr, steps, form) for label, form in ADAM_FORMS.items()}
    losses = {
        label: np.array([float(problem(p)) if np.all(np.isfinite(p)) else np.nan for p in path])
        for label, path in paths.items()
    }
    library = np.asarray(jaxgd.run(jaxgd.adam(lr), problem, problem.x0, steps).params, dtype=float)
    agree = float(np.max(np.abs(library - paths["correct (Kingma & Ba: t from 1)"])))
    ax = plot.loss_curves(losses, title=f"Adam on {problem.name}, eta = {lr}: literal forms (a cross: NaN or blow-up)")
    report.figure(
        ax, "errata_adam_forms.png", "Adam as each lecture writes it against the correct form, on the ravine."
    )
    out = {"lr": lr, "steps": steps, "correct_vs_jaxgd_adam_max_difference": agree}
    for label, form in ADAM_FORMS.items():
        loss = losses[label]
        first_bad = np.nonzero(~np.isfinite(loss))[0]
        out[form] = {
            "final_loss": float(loss[-1]),
            "first_nan_step": int(first_bad[0]) if len(first_bad) else None,
            "first_step": (paths[label][1] - paths[label][0]).tolist(),
        }
    return out


def _adam_last_step(horizon: int) -> float:
    """|step| / eta of jaxgd.adam at t = horizon after the history g_s ~ (b1/b2)^(horizon - s) (the worst one)."""
    import jax
    import jax.numpy as jnp

    g = (B1 / B2) ** (horizon - np.arange(1, horizon + 1))
    g = np.where(g > 1e-20, g, 0.0)  # float32: the dropped terms weigh < 1e-40 in the step
    opt = jaxgd.adam(1.0, B1, B2, eps=1e-30)
    state = opt.init(jnp.zeros(1))
    state, _ = jax.lax.scan(lambda st, gt: (opt.update(jnp.reshape(gt, (1,)), st)[1], None), state, jnp.asarray(g[:-1]))
    update, _ = opt.update(jnp.reshape(jnp.asarray(g[-1]), (1,)), state)
    return float(-update[0])


def adam_bound(report: Report, steps: int = 2000) -> dict:
    """ST449's Adam step bound against the adversarial history g_s ~ (b1/b2)^(t-s), run through jaxgd.adam."""
    horizons = np.arange(1, steps + 1)

    def worst(t):  # eta sqrt(sum_s a_s^2 / b_s), a_s and b_s the weights of m_hat and v_hat at step t
        k = t - np.arange(1, t + 1)
        a = (1 - B1) * B1**k / (1 - B1**t)
        b = (1 - B2) * B2**k / (1 - B2**t)
        return float(np.sqrt(np.sum(a**2 / b)))

    exact = np.array([worst(int(t)) for t in horizons])
    checked = [10, 100, 500, steps]
    measured = [_adam_last_step(t) for t in checked]
    claimed = (1 - B1) / np.sqrt(1 - B2)
    fig, axes = plot.subplots(1, 2, size=(4.4, 3.3))
    k = np.arange(1, steps + 1)
    axes[0, 0].semilogy(k, (B1 / B2) ** (steps - k), lw=1)
    axes[0, 0].set(xlabel="step s", ylabel="gradient g_s", ylim=(1e-20, 10))
    axes[0, 0].set_title(f"adversarial history for t = {steps}: (b1/b2)^(t - s)", fontsize=9)
    ax = axes[0, 1]
    ax.plot(horizons, exact, "k-", lw=1, label="worst |step| / eta over all histories")
    ax.plot(checked, measured, "o", mfc="none", color="C0", label="jaxgd.adam on the adversarial history")
    ax.axhline(claimed, color="C3", ls="--", lw=1, label=f"ST449's bound (1 - b1)/sqrt(1 - b2) = {claimed:.3g}")
    ax.set(xlabel="step t", ylabel="|step| / eta")
    ax.set_title(f"Adam's largest step, b1 = {B1}, b2 = {B2}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    report.figure(fig, "errata_adam_bound.png", "ST449's Adam step bound against an adversarial gradient history.")
    return {
        "steps": steps,
        "claimed_bound": claimed,
        "exact_worst_case": exact[-1],
        "checked_steps": checked,
        "measured_steps": measured,
        "measured_last_step": measured[-1],
    }


def gd_bound(report: Report, small: bool) -> dict:
    """GD at eta = 1/L on the ravine from 10 (4, 0.5): f(x_t) - f* against DD2424's literal and the correct bound."""
    problem = jaxgd.problems.ravine(50.0, x0=(40.0, 5.0))
    lam = np.asarray(problem.data["diag"], dtype=float)
    big_l, r0 = float(lam.max()), float(np.linalg.norm(np.asarray(problem.x0, dtype=float)))
    steps = 200 if small else 1000
    loss = np.asarray(jaxgd.run(jaxgd.sgd(1.0 / big_l), problem, problem.x0, steps).loss, dtype=float)
    t = np.arange(1, steps + 1)
    correct, literal = big_l * r0**2 / (2 * t), big_l * r0 / t
    ax = plot.loss_curves(
        {
            "GD, eta = 1/L": loss,
            "L ||x0 - x*||^2 / (2t) (correct)": np.r_[np.nan, correct],
            "L ||x0 - x*|| / t (DD2424 as written)": np.r_[np.nan, literal],
        },
        title=f"GD on {problem.name} from (40, 5): the sublinear bound",
    )
    report.figure(
        ax, "errata_gd_bound.png", "f(x_t) - f* of GD against the correct bound and the lecture's literal one."
    )
    return {
        "start": [40.0, 5.0],
        "max_ratio_to_correct": float(np.max(loss[1:] / correct)),
        "max_ratio_to_literal": float(np.max(loss[1:] / literal)),
        "first_step_over_literal": int(t[np.argmax(loss[1:] > literal)]) if np.any(loss[1:] > literal) else None,
    }


def second_derivative_test() -> dict:
    """The test on f = x1^2 + 50 x2^2 (a minimum) and -f (a maximum): correct against SYS 6016's swapped labels."""
    swap = {"minimum": "maximum", "maximum": "minimum"}
    out = {}
    for name, sign in (("x1^2 + 50 x2^2 at 0", 1.0), ("-(x1^2 + 50 x2^2) at 0", -1.0)):
        correct = analysis.classify_eigenvalues(sign * np.array([2.0, 100.0]))
        out[name] = {"correct": correct, "sys6016_literal": swap.get(correct, correct)}
    return out


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    report.progress("Adam in four forms on the ravine")
    forms = adam_forms(report, small)
    report.progress("Adam's step bound against an adversarial history")
    bound = adam_bound(report)
    gd = gd_bound(report, small)
    test = second_derivative_test()
    report.results.update({"adam_forms": forms, "adam_bound": bound, "gd_bound": gd, "second_derivative_test": test})
    _state(report, forms, bound, gd, test)
    return report.finish()


def _state(report: Report, forms: dict, bound: dict, gd: dict, test: dict) -> None:
    """The findings and the claims table's rows, from the numbers."""
    report.finding(
        f"The correct hand-written Adam follows jaxgd.adam to {forms['correct_vs_jaxgd_adam_max_difference']:.1g}; "
        f"DD2424's t-from-0 form is NaN from step {forms['t_from_zero']['first_nan_step']}, ST449's lagged form from "
        f"step {forms['lagged']['first_nan_step']}; SYS 6016's '+' ends at f = {forms['plus']['final_loss']:.3g} "
        f"(the correct form: {forms['correct']['final_loss']:.3g})."
    )
    report.finding(
        f"ST449's Adam bound {bound['claimed_bound']:.3g} eta is exceeded: {bound['measured_last_step']:.3g} eta after "
        f"{bound['steps']} adversarial steps (exact worst case {bound['exact_worst_case']:.3g} eta)."
    )
    report.finding(
        f"GD from (40, 5) reaches {gd['max_ratio_to_literal']:.3g}x DD2424's literal bound and "
        f"{gd['max_ratio_to_correct']:.3g}x the correct L ||x0 - x*||^2 / (2t)."
    )
    nan = forms["t_from_zero"]["first_nan_step"]
    report.claim(
        "DD2424",
        "Adam's bias correction 1/(1 - beta^t), t from 0 (as written)",
        f"NaN from step {nan}" if nan is not None else "finite",
        nan is None,
    )
    lag = forms["lagged"]["first_nan_step"]
    report.claim(
        "ST449",
        "Adam's step uses m_{t-1}, v_{t-1} (as written)",
        f"NaN from step {lag}" if lag is not None else f"final f = {forms['lagged']['final_loss']:.3g}",
        lag is None,
    )
    report.claim(
        "SYS 6016",
        "Adam: x <- x + eta m_hat / sqrt(v_hat) (as written)",
        f"final f = {forms['plus']['final_loss']:.3g} against {forms['correct']['final_loss']:.3g}",
        forms["plus"]["final_loss"] <= forms["correct"]["final_loss"],
    )
    row = test["x1^2 + 50 x2^2 at 0"]
    report.claim(
        "SYS 6016",
        "second-derivative test: f'' > 0 is a maximum (as written)",
        f"positive definite Hessian: {row['correct']}; the slide says {row['sys6016_literal']}",
        False,
    )
    report.claim(
        "DD2424",
        "GD: f(x_t) - f* <= L ||x0 - x*|| / t (as written)",
        f"GD from (40, 5) reaches {gd['max_ratio_to_literal']:.3g}x it",
        gd["max_ratio_to_literal"] <= 1,
    )
    report.claim(
        "DD2424 (corrected)",
        "GD: f(x_t) - f* <= L ||x0 - x*||^2 / (2t)",
        f"largest ratio {gd['max_ratio_to_correct']:.3g}",
        gd["max_ratio_to_correct"] <= 1,
    )
    report.claim(
        "ST449",
        "Adam's step |Delta x| <= eta (1 - b1)/sqrt(1 - b2)",
        f"{bound['measured_last_step']:.3g} eta after {bound['steps']} adversarial steps",
        bound["measured_last_step"] <= bound["claimed_bound"],
    )


if __name__ == "__main__":
    from _common import script

    script(main)
