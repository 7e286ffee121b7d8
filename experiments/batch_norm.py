"""Batch normalisation ("Batch Norm if deep", SYS 6016; Ioffe and Szegedy 2015) on a deep MLP on digits.

A ReLU network with 8 hidden layers of 32 units (He initialisation) is trained by SGD, with and without
batch normalisation of every hidden layer (``MLP(..., batch_norm=True)``: batch statistics in training,
running averages with momentum 0.9 in evaluation, learnable gamma and beta), at learning rates on a log
grid. A learning rate "trains" when the final validation accuracy exceeds ``THRESHOLD``. Measured: the
training curves at one learning rate, and the range of learning rates that train, for each network.
"""

from __future__ import annotations

import jax
import numpy as np
from _common import Report

import jaxgd
from jaxgd import nn, plot

ORDER = 94
NAME = "batch_norm"
TITLE = "Batch normalisation widens the range of learning rates a deep MLP trains at"

THRESHOLD = 0.8  # final validation accuracy for "trains" (0.6 with --small: 4 epochs on 400 images)
DEPTH, WIDTH = 8, 32


def _range(lrs, ok):
    good = [lr for lr, o in zip(lrs, ok) if o]
    return (min(good), max(good)) if good else (None, None)


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    epochs = 4 if small else 20
    threshold = 0.6 if small else THRESHOLD
    lrs = [0.01, 0.1, 1.0, 10.0] if small else [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    data = nn.load("digits", seed=0, train_size=400 if small else None)
    sizes = (data.num_features,) + (WIDTH,) * DEPTH + (data.num_classes,)
    runs, curves = {}, {}
    for label, bn in (("plain", False), ("batch norm", True)):
        model = nn.MLP(sizes, batch_norm=bn)
        params = model.init(jax.random.key(0))
        report.progress(f"{label}: {len(lrs)} learning rates x {epochs} epochs")
        accs = []
        for lr in lrs:
            r = nn.fit(model, params, jaxgd.sgd(lr), data.train, data.val, jax.random.key(1), epochs=epochs)
            h = r.history
            acc = float(h.val_accuracy[-1])
            accs.append(acc if np.isfinite(acc) else 0.0)
            curves[(label, lr)] = {k: np.asarray(getattr(h, k), float) for k in ("train_loss", "val_accuracy")}
        runs[label] = accs
    fig, axes = plot.subplots(1, 2, size=(4.3, 3.4))
    for label, accs in runs.items():
        axes[0, 0].semilogx(lrs, accs, "o-", label=label)
    axes[0, 0].axhline(threshold, color="k", ls="--", lw=0.8)
    axes[0, 0].set(xlabel=r"SGD learning rate $\eta$", ylabel="final val accuracy", title=f"{DEPTH} hidden layers")
    axes[0, 0].legend(fontsize=7)
    show = 0.1
    for i, label in enumerate(runs):
        loss = curves[(label, show)]["train_loss"]
        axes[0, 1].semilogy(
            np.arange(1, epochs + 1), np.where(np.isfinite(loss), loss, np.nan), color=f"C{i}", label=label
        )
    axes[0, 1].set(xlabel="epoch", ylabel="train loss", title=rf"training curves, $\eta$ = {show}")
    axes[0, 1].legend(fontsize=7)
    text = f"Final validation accuracy against eta (dashed: the 'trains' threshold {threshold}), and training curves"
    report.figure(fig, "batch_norm.png", f"{text} at eta = {show}, with and without batch norm.")
    ranges = {label: _range(lrs, [a > threshold for a in accs]) for label, accs in runs.items()}
    for label, (lo, hi) in ranges.items():
        report.finding(f"{label}: trains (val accuracy > {threshold}) for eta in [{lo}, {hi}] of {lrs}.")
    n_plain = sum(a > threshold for a in runs["plain"])
    n_bn = sum(a > threshold for a in runs["batch norm"])
    report.claim("SYS 6016", "batch norm widens the range of learning rates a deep net trains at",
          f"plain {ranges['plain']}, batch norm {ranges['batch norm']}", n_bn > n_plain)  # fmt: skip
    report.results.update(
        learning_rates=lrs,
        final_val_accuracy=runs,
        trainable_range={k: list(v) for k, v in ranges.items()},
        curves={f"{label} eta={lr}": {k: v.tolist() for k, v in c.items()} for (label, lr), c in curves.items()},
        sizes=list(sizes),
        epochs=epochs,
        bn_momentum=0.9,
        threshold=threshold,
    )
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
