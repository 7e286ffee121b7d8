"""Mini-batch training of the digits network: learning rates x seeds for SGD, momentum and Adam, one sweep each.

The digits MLP (scikit-learn's 8x8 digits, standardised, stratified train / validation split) is
trained on mini-batches of 32: a :class:`jaxgd.stochastic.MiniBatch` of a finite sum of its
cross-entropy over the training split. For each optimizer one ``jaxgd.sweep`` call runs
64 log-spaced learning rates x 4 seeds (16 x 2 with --small), the batches drawn and gathered on the
device inside the loop, the full training loss evaluated every ``steps / 20`` steps. The final
parameters of every run are scored on the validation split: validation accuracy per run, and its
spread across seeds per learning rate.
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import nn, plot
from jaxgd import stochastic as st

ORDER = 67  # place in the index page
NAME = "stochastic_sweep"
TITLE = "Mini-batch training of the digits network over learning rates and seeds"
BATCH = 32
OPTIMIZERS = {  # name: (factory of the learning rate, range of learning rates)
    "SGD": (jaxgd.sgd, (1e-3, 30.0)),
    "momentum 0.9": (lambda learning_rate: jaxgd.momentum(learning_rate, 0.9), (1e-4, 3.0)),
    "Adam": (jaxgd.adam, (1e-5, 1.0)),
}


def _mlp_loss(params, batch, model):
    return nn.softmax_cross_entropy(model.apply(params, batch["x"]), batch["y"])


def digits_minibatch(hidden: int) -> tuple[st.MiniBatch, nn.MLP, object, nn.DataSplits]:
    """The mini-batch loss of the digits MLP on the training split, the model, its start and the data."""
    data = nn.load("digits", seed=0)
    model = nn.MLP((data.num_features, hidden, data.num_classes))
    params = model.init(jax.random.PRNGKey(0))
    train = st.FiniteSum(
        _mlp_loss, {"x": data.train.x, "y": data.train.y}, consts={"model": model}, x0=params, name="digits_mlp"
    )
    return train.minibatch(BATCH), model, params, data


def sweep_one(name: str, loss: st.MiniBatch, model, data, rates: int, seeds: int, steps: int) -> dict:
    """One sweep of ``rates`` x ``seeds`` runs; validation accuracy per run and its spread across seeds."""
    factory, (lo, hi) = OPTIMIZERS[name]
    lrs = np.geomspace(lo, hi, rates)
    res = jaxgd.sweep(factory, loss, {"learning_rate": lrs}, steps, seeds=seeds, eval_every=max(1, steps // 20))
    _, acc = jax.vmap(lambda p: nn.evaluate(model, p, data.val))(res.final_params)
    acc = np.where(res.diverged, np.nan, np.asarray(acc, float)).reshape(rates, seeds)
    stats = res.seed_stats()
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(acc).any(1)  # learning rates where no seed diverged
    mean, std = np.full(rates, np.nan), np.full(rates, np.nan)
    mean[ok], std[ok] = acc[ok].mean(1), acc[ok].std(1)
    best = res.best()  # by the median full training loss across seeds
    i = int(np.nanargmax(np.where(ok, mean, -np.inf)))
    near = ok & (mean >= mean[i] - 0.01)
    return {
        "learning_rates": lrs,
        "val_accuracy": acc,
        "mean": mean,
        "std": std,
        "train_median": stats.final_loss["q50"][:, 0, 0],
        "diverged_fraction": stats.diverged[:, 0, 0],
        "best_by_train": {"learning_rate": float(lrs[best.index]), "val_mean": float(mean[best.index])},
        "best_by_val": {"learning_rate": float(lrs[i]), "val_mean": float(mean[i]), "val_std": float(std[i])},
        "decades_within_1pt": float(np.log10(lrs[near].max() / lrs[near].min())) if near.any() else 0.0,
        "median_seed_std": float(np.nanmedian(std[ok])) if ok.any() else float("nan"),
        "runs": res.num_runs,
    }


def reproduces_run(loss: st.MiniBatch, steps: int) -> float:
    """max |x_T| difference between a one-run sweep and jaxgd.stochastic.run with the same key (0: bitwise)."""
    key = jax.random.key(3)
    res = jaxgd.sweep(jaxgd.sgd, loss, {"learning_rate": [0.1]}, steps, seeds=key[None])
    tr = st.run(jaxgd.sgd(0.1), loss, loss.full.x0, steps, key=key, eval_at=steps)
    diffs = [
        np.max(np.abs(np.asarray(a)[0] - np.asarray(b)))
        for a, b in zip(*map(jax.tree.leaves, (res.final_params, tr.final_params)))
    ]
    return float(max(diffs))


def figure(report: Report, runs: dict) -> None:
    fig, (axes,) = plot.subplots(1, len(runs), size=(4.0, 3.4))
    for ax, (name, r) in zip(axes, runs.items()):
        lrs = r["learning_rates"]
        for j in range(r["val_accuracy"].shape[1]):
            ax.plot(lrs, r["val_accuracy"][:, j], ".", alpha=0.5, ms=3)
        ax.plot(lrs, r["mean"], "k-", lw=1, label="mean over seeds")
        ax.fill_between(lrs, r["mean"] - r["std"], r["mean"] + r["std"], color="k", alpha=0.15, label="+- 1 std")
        ax.set(xscale="log", xlabel="learning rate", ylabel="validation accuracy", ylim=(0.0, 1.0), title=name)
    axes[0].legend(loc="lower left")
    report.figure(fig, "stochastic_sweep.png", "Validation accuracy of every run (dots: seeds) against the rate.")


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    rates, seeds, steps, hidden = (16, 2, 200, 16) if small else (64, 4, 2000, 64)
    loss, model, _, data = digits_minibatch(hidden)
    runs, rows = {}, []
    for name in ("SGD", "Adam") if small else OPTIMIZERS:  # --small: two sweeps to compile, not three
        report.progress(f"{name}: {rates} rates x {seeds} seeds x {steps} steps, one sweep")
        r = runs[name] = sweep_one(name, loss, model, data, rates, seeds, steps)
        for k, lr in enumerate(r["learning_rates"]):
            for j in range(seeds):
                rows.append({"optimizer": name, "learning_rate": float(lr), "seed": j,
                             "val_accuracy": float(r["val_accuracy"][k, j])})  # fmt: skip
    figure(report, runs)
    report.csv(
        rows, "stochastic_sweep.csv", "Every run: optimizer, learning rate, seed, validation accuracy (NaN: diverged)."
    )
    gap = reproduces_run(loss, 50)
    for name, r in runs.items():
        b = r["best_by_val"]
        report.finding(
            f"{name}: best validation accuracy {b['val_mean']:.3f} +- {b['val_std']:.3f} across {seeds} seeds at "
            f"eta = {b['learning_rate']:.2g}; within 1 point of it over {r['decades_within_1pt']:.2f} decades of eta; "
            f"median spread across seeds {r['median_seed_std']:.3f}; the rate with the lowest median training loss "
            f"({r['best_by_train']['learning_rate']:.2g}) scores {r['best_by_train']['val_mean']:.3f}."
        )
    report.finding(f"A one-run sweep ends {gap:.1e} from jaxgd.stochastic.run with the same key (0: bit for bit).")
    width = {n: r["decades_within_1pt"] for n, r in runs.items()}
    report.claim("course (adaptive methods)", "Adam works over a wider range of learning rates than plain SGD",
                 f"decades within 1 point of the best: Adam {width['Adam']:.2f}, SGD {width['SGD']:.2f}",
                 width["Adam"] >= width["SGD"])  # fmt: skip
    spread = max(r["median_seed_std"] for r in runs.values())
    report.claim("course (stochastic gradient)", "at a good rate the mini-batch noise changes the result little "
                 "(spread across seeds below 2 points of accuracy)", spread, spread < 0.02)  # fmt: skip
    report.results.update({"runs": runs, "sweep_equals_run_gap": gap, "steps": steps, "batch_size": BATCH})
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
