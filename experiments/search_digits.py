"""Random search against grid search (Bergstra & Bengio 2012) for heavy-ball momentum on the digits MLP.

Both spend the same budget of n full-batch training runs over (learning rate,
momentum), each in one ``jaxgd.sweep`` call. The grid tries only sqrt(n)
distinct learning rates; random search (eta = 10^U(-2, 1), momentum ~ U(0, 0.95))
tries n, so it covers the axis that matters more finely. Each run is scored on
the validation set; the table gives the best validation loss and accuracy of
each strategy and the number of distinct learning rates it tried.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import nn, plot

ORDER = 95  # place in the index page
NAME = "search_digits"
TITLE = "Random vs grid search on the digits network"
LR_RANGE = (1e-2, 10.0)
MOMENTUM_RANGE = (0.0, 0.95)


def spaces(n: int, key: jax.Array) -> dict[str, jaxgd.Space]:
    """A sqrt(n) x sqrt(n) grid and n random draws over the same box."""
    side = math.isqrt(n)
    grid = jaxgd.grid(
        learning_rate=np.geomspace(*LR_RANGE, side).tolist(),
        momentum=np.linspace(*MOMENTUM_RANGE, side).tolist(),
    )
    rand = jaxgd.random_search(
        key, side * side, learning_rate=jaxgd.log_uniform(*LR_RANGE), momentum=jaxgd.uniform(*MOMENTUM_RANGE)
    )
    return {"grid": grid, "random": rand}


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    n, steps, hidden = (16, 150, 32) if small else (64, 400, 64)
    data = nn.load("digits", seed=0)
    model = nn.MLP((data.num_features, hidden, data.num_classes))
    params = model.init(jax.random.PRNGKey(0))
    train_loss = nn.training_objective(model, data.train)

    def validation(p):
        return nn.evaluate(model, p, data.val)

    rows, best = [], {}
    fig, (axes,) = plot.subplots(1, 2, size=(5.0, 4.0))
    for (label, space), marker in zip(spaces(n, jax.random.PRNGKey(1)).items(), ("s", "o")):
        report.progress(f"{label} search: {len(space)} runs x {steps} steps")
        result = jaxgd.sweep(jaxgd.momentum, train_loss, space, steps, x0=params)
        val_loss, val_acc = (np.asarray(a, dtype=float) for a in jax.vmap(validation)(result.final_params))
        val_loss = np.where(result.diverged, np.inf, val_loss)
        lr = np.asarray(result.hyperparams["learning_rate"], dtype=float)
        mom = np.asarray(result.hyperparams["momentum"], dtype=float)
        for i in range(len(lr)):
            rows.append(
                {
                    "strategy": label,
                    "learning_rate": lr[i],
                    "momentum": mom[i],
                    "train_loss": float(result.final_loss[i]),
                    "val_loss": float(val_loss[i]),
                    "val_accuracy": float(val_acc[i]),
                    "diverged": bool(result.diverged[i]),
                }
            )
        i = int(np.argmin(val_loss))
        best[label] = {
            "learning_rate": float(lr[i]),
            "momentum": float(mom[i]),
            "val_loss": float(val_loss[i]),
            "val_accuracy": float(val_acc[i]),
            "distinct_learning_rates": len(np.unique(lr)),
            "runs": len(lr),
            "diverged": int(result.diverged.sum()),
        }
        shown = np.isfinite(val_loss)
        dots = axes[0].scatter(lr[shown], mom[shown], c=val_acc[shown], vmin=0.5, vmax=1.0, marker=marker, label=label)
        axes[1].scatter(lr[shown], val_acc[shown], marker=marker, alpha=0.7, label=label)
    axes[0].set(xscale="log", xlabel="learning rate", ylabel="momentum", title="configurations (colour: val. acc.)")
    axes[1].set(xscale="log", xlabel="learning rate", ylabel="validation accuracy", ylim=(0.5, 1.0), title="score")
    fig.colorbar(dots, ax=axes[0], label="validation accuracy")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(f"heavy ball on digits MLP {model.sizes}: {n} runs x {steps} full-batch steps each")
    report.figure(fig, "search_digits.png", "Grid vs random search over (eta, momentum): where each tried, and score.")
    report.csv(rows, "search_digits.csv", "Every run of both searches: hyperparameters, train and validation loss.")
    for label, b in best.items():
        report.finding(
            f"{label} search: best validation accuracy {b['val_accuracy']:.3f} (eta = {b['learning_rate']:.3g}, "
            f"momentum {b['momentum']:.2f}) from {b['distinct_learning_rates']} distinct learning rates "
            f"in {b['runs']} runs."
        )
    grid, rand = best["grid"], best["random"]
    report.claim(
        "Bergstra & Bengio 2012",
        "for the same budget random search tries more distinct values of each hyperparameter than a grid",
        f"{rand['distinct_learning_rates']} distinct learning rates against {grid['distinct_learning_rates']}",
        rand["distinct_learning_rates"] > grid["distinct_learning_rates"],
    )
    report.results.update({"best": best, "steps": steps, "runs_per_strategy": n})
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
