"""Monitoring a network's training, and initialising it well (DD2424, Hildesheim, ST449), on digits.

* update/weight ratio ||Delta W_l|| / ||W_l|| per layer and epoch (``EpochMetrics.update_ratio``) for a
  small, a good and a too-large SGD learning rate, against the 1e-3 rule of thumb (Karpathy, CS231n);
* training loss from weights drawn N(0, sigma^2) with sigma too small (1e-3) and too large (1) against
  He (He et al. 2015) and Xavier (Glorot and Bengio 2010) initialisation;
* per-layer gradient norms ||dL/dW_l|| (``EpochMetrics.layer_grad_norm``) of an 8-hidden-layer sigmoid
  network (vanishing gradients: each sigmoid layer multiplies the delta by sigma' <= 1/4) against ReLU + He;
* the cliff (Hildesheim; Pascanu et al. 2013, fig. 6): on L(w) = |w|^2 / 2 + H sigmoid(k (w_1 - 1)),
  GD steps onto the cliff face and the gradient H k / 4 throws w far away;
  ``optax.chain(optax.clip_by_global_norm(1), jaxgd.sgd(eta))`` bounds the step by eta;
* the output bias set to argmin_b L, b = log of the class frequencies (:func:`jaxgd.nn.output_bias_init`),
  on imbalanced breast-cancer data: the initial loss is the entropy H(pi) instead of about log K;
* hidden ReLU biases c = 0 against c = 0.1: the fraction of dead units (:func:`jaxgd.nn.dead_units`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import Report

import jaxgd
from jaxgd import nn, plot

ORDER = 93
NAME = "monitoring"
TITLE = "Monitoring training: update ratios, initialisation, vanishing gradients, the cliff, dead ReLUs"

LRS = {"too small": 0.003, "good": 0.03, "too large": 3.0}


def _fit(data, model, params, lr, epochs):
    return nn.fit(model, params, jaxgd.sgd(lr), data.train, data.val, jax.random.key(1), epochs=epochs, batch_size=32)


def update_ratios(report, data, epochs):
    model = nn.MLP((data.num_features, 32, 32, data.num_classes))
    params = model.init(jax.random.key(0))
    fig, axes = plot.subplots(1, len(LRS), size=(3.6, 3.0), sharey=True)
    means = {}
    for ax, (label, lr) in zip(axes[0], LRS.items()):
        h = _fit(data, model, params, lr, epochs).history
        r = np.asarray(h.update_ratio)
        means[label] = (float(r[0].mean()), float(h.train_loss[-1]))  # epoch 1 (dead ReLUs give 0 later)
        for layer in range(r.shape[1]):
            ax.semilogy(np.arange(1, epochs + 1), r[:, layer], label=f"W{layer + 1}")
        ax.axhline(1e-3, color="k", ls="--", lw=0.8)
        ax.set(title=f"{label}: eta = {lr}", xlabel="epoch")
    axes[0, 0].set_ylabel(r"$\|\Delta W_l\| / \|W_l\|$")
    axes[0, 0].legend(fontsize=7)
    report.figure(fig, "update_ratio.png", "Update/weight ratio per layer and epoch for three SGD learning rates; "
                  "dashed: the 1e-3 rule of thumb.")  # fmt: skip
    for label, (ratio, loss) in means.items():
        report.finding(
            f"update ratio in epoch 1, eta = {LRS[label]} ({label}): {ratio:.2g} (final train loss {loss:.3g})."
        )
    good, bad = means["good"][0], means["too large"][0]
    report.claim("DD2424", "1e-3 rule of thumb: a good learning rate gives update ratios near 1e-3, a bad one ~1e-1",
          f"good {good:.1e}, too large {bad:.1e}", 3e-4 < good < 1e-2 and bad > 3e-2)  # fmt: skip
    return means


def initialisation(report, data, epochs):
    model = nn.MLP((data.num_features, 32, 32, 32, 32, data.num_classes))
    inits = {"N(0, 1e-6)": nn.gaussian(1e-3), "N(0, 1)": nn.gaussian(1.0), "He": nn.he_normal(),
             "Xavier": nn.xavier_uniform()}  # fmt: skip
    fig, axes = plot.subplots(1, 1, size=(4.5, 3.4))
    final = {}
    for label, init in inits.items():
        h = _fit(data, model, model.init(jax.random.key(0), weight_init=init), 0.05, epochs).history
        loss = np.asarray(h.train_loss)
        final[label] = float(loss[-1])
        axes[0, 0].semilogy(np.arange(1, epochs + 1), np.where(np.isfinite(loss), loss, np.nan), label=label)
    axes[0, 0].set(xlabel="epoch", ylabel="train loss", title="4 hidden ReLU layers, SGD 0.05")
    axes[0, 0].legend(fontsize=7)
    report.figure(fig, "initialisation.png", "Training loss from four weight initialisations.")
    report.finding("final train loss by initialisation: " + ", ".join(f"{k} {v:.3g}" for k, v in final.items()) + ".")
    good = min(final["He"], final["Xavier"])
    report.claim("DD2424", "too small or too large an initial sigma stalls training; He/Xavier train",
          ", ".join(f"{k} {v:.3g}" for k, v in final.items()),
          good < 0.9 * min(final["N(0, 1e-6)"], final["N(0, 1)"]))  # fmt: skip
    return final


def vanishing(report, data):
    deep = (data.num_features,) + (32,) * 8 + (data.num_classes,)
    fig, axes = plot.subplots(1, 1, size=(4.5, 3.4))
    ratio = {}
    for act, init in (("sigmoid", nn.xavier_uniform()), ("relu", nn.he_normal())):
        model = nn.MLP(deep, activation=act)
        g = np.asarray(
            _fit(data, model, model.init(jax.random.key(0), weight_init=init), 0.05, 1).history.layer_grad_norm
        )[0]
        ratio[act] = float(g[0] / g[-1])
        axes[0, 0].semilogy(
            np.arange(1, len(g) + 1), g, "o-", label=f"{act} ({'Xavier' if act == 'sigmoid' else 'He'})"
        )
    axes[0, 0].set(xlabel="layer l", ylabel=r"$\|\partial L / \partial W_l\|$", title="8 hidden layers, epoch 1")
    axes[0, 0].legend(fontsize=7)
    report.figure(fig, "layer_grad_norm.png", "Per-layer gradient norms (mean over the first epoch's steps).")
    report.finding(f"first/last layer gradient norm: sigmoid {ratio['sigmoid']:.1e}, ReLU + He {ratio['relu']:.2g}.")
    report.claim("DD2424", "deep sigmoid net: the first layer's gradient vanishes, not with ReLU + He",
          f"sigmoid {ratio['sigmoid']:.1e}, relu {ratio['relu']:.2g}",
          ratio["sigmoid"] < 1e-2 and ratio["relu"] > 0.1)  # fmt: skip
    return ratio


def cliff_loss(w: jax.Array, height: float = 20.0, steepness: float = 10.0) -> jax.Array:
    """|w|^2 / 2 + H sigmoid(k (w_1 - 1)): a bowl with a cliff of height H and face slope up to H k / 4 at w_1 = 1."""
    return 0.5 * jnp.sum(w**2) + height * jax.nn.sigmoid(steepness * (w[0] - 1.0))


def cliff(report, steps=40, lr=0.1):
    x0 = jnp.asarray([3.0, 1.5])
    runs = {"SGD": jaxgd.sgd(lr), "SGD + clip 1": optax.chain(optax.clip_by_global_norm(1.0), jaxgd.sgd(lr))}
    fig, axes = plot.subplots(1, 2, size=(4.2, 3.4))
    g1, g2 = np.meshgrid(np.linspace(-6, 4, 200), np.linspace(-2.5, 2.5, 100))
    z = jax.vmap(cliff_loss)(jnp.stack([g1.ravel(), g2.ravel()], 1)).reshape(g1.shape)
    axes[0, 0].contourf(g1, g2, np.asarray(z), levels=30, cmap="Greys")
    jumps = {}
    for i, (label, opt) in enumerate(runs.items()):
        path = np.asarray(jaxgd.run(opt, cliff_loss, x0, steps).params)
        step = np.linalg.norm(np.diff(path, axis=0), axis=1)
        jumps[label] = float(step.max())
        axes[0, 0].plot(path[:, 0], path[:, 1], "o-", ms=2.5, color=f"C{i}", label=label)
        axes[0, 1].semilogy(np.arange(1, steps + 1), step, color=f"C{i}", label=label)
    axes[0, 0].set(xlabel="$w_1$", ylabel="$w_2$", title="a cliff at $w_1$ = 1")
    axes[0, 1].set(xlabel="step", ylabel=r"$\|w_{t+1} - w_t\|$", title=f"step length, eta = {lr}")
    axes[0, 0].legend(fontsize=7)
    report.figure(fig, "cliff.png", "GD on a bowl with a cliff, with and without gradient-norm clipping: paths and "
                  "step lengths.")  # fmt: skip
    report.finding(f"cliff: largest step {jumps['SGD']:.3g} without clipping, {jumps['SGD + clip 1']:.3g} with "
                   f"clip_by_global_norm(1) (bound eta = {lr}).")  # fmt: skip
    report.claim("Hildesheim", "gradient-norm clipping bounds the jump off a cliff by eta * threshold",
          f"largest step {jumps['SGD']:.3g} unclipped, {jumps['SGD + clip 1']:.3g} clipped",
          jumps["SGD + clip 1"] <= lr * 1.0001 and jumps["SGD"] > 10 * lr)  # fmt: skip
    return jumps


def output_bias(report):
    data = nn.load("breast_cancer", seed=0)
    model = nn.MLP((data.num_features, 16, data.num_classes))
    b = nn.output_bias_init(data.train.y, data.num_classes)
    freq = np.bincount(np.asarray(data.train.y), minlength=data.num_classes) / data.train.y.shape[0]
    entropy = float(nn.entropy(jnp.asarray(freq)))
    losses = {}
    for label, kw in (("b = 0", {}), ("b = log pi", {"output_bias": b})):
        params = model.init(jax.random.key(0), weight_init=nn.xavier_uniform(), **kw)
        params[-1]["w"] = params[-1]["w"] * 0.01  # small output weights: the bias sets the first predictions
        losses[label] = float(nn.evaluate(model, params, data.train)[0])
    report.finding(f"output bias (breast cancer, class frequencies {np.round(freq, 3).tolist()}): initial loss "
                   f"{losses['b = 0']:.4f} with b = 0 (log K = {np.log(2):.4f}), {losses['b = log pi']:.4f} with "
                   f"b = log pi (H(pi) = {entropy:.4f}).")  # fmt: skip
    report.claim("Hildesheim", "output bias b = argmin_b L = log class frequencies starts the loss at H(pi) < log K",
          f"{losses['b = log pi']:.4f} vs H(pi) {entropy:.4f}; b = 0: {losses['b = 0']:.4f}",
          abs(losses["b = log pi"] - entropy) < 0.01 and losses["b = log pi"] < losses["b = 0"])  # fmt: skip
    return {"losses": losses, "entropy": entropy, "class_frequencies": freq.tolist()}


def dead_relus(report, data, epochs):
    model = nn.MLP((data.num_features,) + (16,) * 6 + (data.num_classes,))
    out = {}
    for c in (0.0, 0.1):
        params = model.init(jax.random.key(0), bias=c)
        last = _fit(data, model, params, 0.5, epochs).last_params
        dead = np.asarray(nn.dead_units(model, last, data.train.x))
        out[c] = {"init": np.asarray(nn.dead_units(model, params, data.train.x)).tolist(), "trained": dead.tolist()}
    f0, f1 = (float(np.mean(out[c]["trained"])) for c in (0.0, 0.1))
    report.finding(f"dead ReLUs after {epochs} epochs at eta = 0.5 (6 hidden layers of 16): {f0:.3f} with c = 0, "
                   f"{f1:.3f} with c = 0.1.")  # fmt: skip
    report.claim("Hildesheim", "a small positive hidden bias c keeps fewer ReLUs dead",
          f"dead fraction {f0:.3f} (c = 0) vs {f1:.3f} (c = 0.1)", f1 < f0)  # fmt: skip
    return out


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    epochs = 4 if small else 20
    data = nn.load("digits", seed=0, train_size=300 if small else None)
    report.progress("update ratios")
    ratios = update_ratios(report, data, epochs)
    report.progress("initialisation")
    inits = initialisation(report, data, epochs)
    report.progress("vanishing gradients")
    vanish = vanishing(report, data)
    report.progress("cliff, output bias, dead ReLUs")
    jumps = cliff(report)
    bias = output_bias(report)
    dead = dead_relus(report, data, epochs)
    report.results.update(
        update_ratio={k: {"lr": LRS[k], "ratio": v[0], "final_train_loss": v[1]} for k, v in ratios.items()},
        initialisation_final_loss=inits,
        first_over_last_grad_norm=vanish,
        cliff_largest_step=jumps,
        output_bias=bias,
        dead_units={str(c): v for c, v in dead.items()},
        epochs=epochs,
    )
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
