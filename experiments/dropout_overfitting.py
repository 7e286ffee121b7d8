"""Over-fitting and its cures: an over-parameterised MLP on 100 digits, without regularisation, with dropout, with L2.

A ReLU network 64-H-H-10 (H = 128 small, 512 full: tens to hundreds of
thousands of weights for 100 training images) trained by heavy ball
(eta = 0.01, momentum 0.9, batches of 25) memorises its training set: train
accuracy 1, train loss -> 0, while the validation loss stalls or rises. The
train/validation gap (final val loss - train loss, and train accuracy - val
accuracy, both with the test-time network) is measured for

* no regularisation;
* dropout (Srivastava et al. 2014): hidden units kept with p = 0.5, inputs with 0.8, inverted scaling;
* L2 weight decay: the objective plus lambda (1/2)||W||^2, lambda = 0.03.

Each setting trains the same seeds (one vmapped ensemble); the numbers are seed means.

What to look for: L2 narrows both gaps. Dropout narrows the accuracy gap and
raises validation accuracy; with long training its deterministic test-time
network can grow over-confident on the few validation errors, so its final
validation loss may end above the unregularised one (compare ``best_val_loss``).
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import nn, plot

ORDER = 92  # place in the index page
NAME = "dropout_overfitting"
TITLE = "Dropout, L2 and over-fitting on a small digits training set"

TRAIN_SIZE = 100
SETTINGS = {  # label -> (hidden keep_prob, input keep_prob, l2)
    "no regularisation": (1.0, 1.0, 0.0),
    "dropout": (0.5, 0.8, 0.0),
    "L2": (1.0, 1.0, 0.03),
}
METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    hidden, epochs, seeds = (128, 60, 3) if small else (512, 200, 5)
    data = nn.load("digits", seed=0, train_size=TRAIN_SIZE, val_fraction=0.4, test_fraction=0.1)
    sizes = (data.num_features, hidden, hidden, data.num_classes)
    keys = jax.random.split(jax.random.key(0), seeds)
    params = jax.vmap(nn.MLP(sizes).init)(keys)  # the same initial weights for every setting
    optimizer = jaxgd.momentum(0.01, 0.9)
    histories, rows = {}, []
    for label, (keep, input_keep, l2) in SETTINGS.items():
        report.progress(f"{label}: {seeds} seeds x {epochs} epochs")
        model = nn.MLP(sizes, keep_prob=keep, input_keep_prob=input_keep)
        result = nn.fit_ensemble(
            model, params, optimizer, data.train, data.val, keys, epochs=epochs, batch_size=25, l2=l2
        )
        h = {k: np.asarray(getattr(result.history, k), dtype=float) for k in METRICS}  # (seeds, epochs)
        histories[label] = {k: v.mean(axis=0) for k, v in h.items()}  # seed means, per epoch
        loss_gap = h["val_loss"][:, -1] - h["train_loss"][:, -1]
        accuracy_gap = h["train_accuracy"][:, -1] - h["val_accuracy"][:, -1]
        rows.append(
            {
                "setting": label,
                "keep_prob": keep,
                "input_keep_prob": input_keep,
                "l2": l2,
                "train_loss": float(h["train_loss"][:, -1].mean()),
                "val_loss": float(h["val_loss"][:, -1].mean()),
                "best_val_loss": float(h["val_loss"].min(axis=1).mean()),
                "train_accuracy": float(h["train_accuracy"][:, -1].mean()),
                "val_accuracy": float(h["val_accuracy"][:, -1].mean()),
                "loss_gap": float(loss_gap.mean()),
                "accuracy_gap": float(accuracy_gap.mean()),
                "loss_gap_per_seed": loss_gap.tolist(),
                "accuracy_gap_per_seed": accuracy_gap.tolist(),
            }
        )
    fig = plot.train_val_curves(
        histories, title=f"64-{hidden}-{hidden}-10 MLP on {TRAIN_SIZE} digits (mean of {seeds} seeds)", log_loss=True
    )
    report.figure(
        fig, "dropout_curves.png", "Train (solid) and validation (dashed) loss and accuracy per epoch, per setting."
    )
    report.csv(
        [{k: v for k, v in r.items() if not k.endswith("_per_seed")} for r in rows],
        "dropout_gaps.csv",
        "Final train and validation loss and accuracy and their gaps, per setting (seed means).",
    )
    for r in rows:
        report.finding(
            f"{r['setting']}: train/validation loss gap {r['loss_gap']:.3g}, accuracy gap {r['accuracy_gap']:.3g}."
        )
    gap = {r["setting"]: r["loss_gap"] for r in rows}
    report.claim(
        "course (regularisation)",
        "dropout reduces overfitting (the train/validation gap)",
        f"loss gap {gap['dropout']:.3g} with dropout, {gap['no regularisation']:.3g} without",
        gap["dropout"] < gap["no regularisation"],
    )
    report.results.update(
        runs=rows,
        curves={label: {k: v.tolist() for k, v in hist.items()} for label, hist in histories.items()},
        train_size=TRAIN_SIZE,
        val_size=int(data.val.x.shape[0]),
        sizes=list(sizes),
        epochs=epochs,
        seeds=seeds,
        optimizer="momentum(0.01, 0.9), batch 25",
    )
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
