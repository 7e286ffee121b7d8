"""Built-in finite sums with known minimisers: least squares and ridge, logistic and softmax regression.

Each returns a :class:`FiniteSum` with ``minimizer`` x*, ``minimum`` f* (computed in float64
and cast to JAX's default float) and ``constants`` beta (smoothness of f), mu (strong
convexity) and beta_max (the largest smoothness of one f_i).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate
from jaxgd import problems as _problems
from jaxgd.stochastic.finite_sum import FiniteSum

__all__ = ["least_squares", "logistic_regression", "ridge", "softmax_regression"]


def _dtype() -> Any:
    return jnp.result_type(float)


def _least_squares_fn(w, batch, l2):
    r = batch["features"] @ w - batch["targets"]
    return 0.5 * jnp.mean(r * r) + 0.5 * l2 * jnp.sum(w * w)


def least_squares(
    features: Any = None,
    targets: Any = None,
    *,
    l2: float = 0.0,
    n: int = 512,
    d: int = 20,
    noise: float = 0.5,
    seed: int = 0,
    name: str | None = None,
) -> FiniteSum:
    """f(w) = (1/n) sum_i 1/2 (a_i^T w - b_i)^2 + l2/2 ||w||^2, with x* = (A^T A / n + l2 I)^{-1} A^T b / n.

    Without ``features`` and ``targets``: synthetic data from ``seed``, a_i ~ N(0, I_d),
    b = A w_true + noise * N(0, I_n). With l2 = 0 and A of rank < d, x* is the minimum-norm
    minimiser. beta = lambda_max(A^T A / n) + l2, mu = lambda_min(A^T A / n) + l2,
    beta_max = max_i ||a_i||^2 + l2. Start: w = 0.

    Args:
        features: A (n, d) (None: synthetic).
        targets: b, (n,) (None: synthetic).
        l2: The ridge weight.
        n: The synthetic number of examples.
        d: The synthetic dimension.
        noise: The synthetic targets' noise level.
        seed: The seed of the synthetic data.
        name: The problem's name (None: from its kind and size).

    Returns:
        The finite-sum problem (:class:`FiniteSum`).
    """
    _validate.nonnegative("l2", l2)
    if (features is None) != (targets is None):
        raise ValueError("give both features and targets, or neither (synthetic data)")
    if features is None:
        _validate.positive_int("n", n)
        _validate.positive_int("d", d)
        _validate.nonnegative("noise", noise)
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((n, d))
        b = a @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    else:
        a, b = np.asarray(features, float), np.asarray(targets, float)
        if a.ndim != 2 or b.shape != (a.shape[0],):
            raise ValueError(f"features must be (n, d) and targets (n,), got shapes {a.shape} and {b.shape}")
    n_, d_ = a.shape
    gram = a.T @ a / n_
    if l2 > 0:
        w = np.linalg.solve(gram + l2 * np.eye(d_), a.T @ b / n_)
    else:
        w = np.linalg.lstsq(a, b, rcond=None)[0]
    r = a @ w - b
    value = 0.5 * np.mean(r * r) + 0.5 * l2 * w @ w
    eig = np.linalg.eigvalsh(gram)
    dtype = _dtype()
    return FiniteSum(
        _least_squares_fn,
        {"features": jnp.asarray(a, dtype), "targets": jnp.asarray(b, dtype)},
        consts={"l2": jnp.asarray(l2, dtype)},
        x0=jnp.zeros(d_, dtype),
        minimizer=jnp.asarray(w, dtype),
        minimum=jnp.asarray(value, dtype),
        constants={
            "beta": jnp.asarray(eig[-1] + l2, dtype),
            "mu": jnp.asarray(max(eig[0], 0.0) + l2, dtype),
            "beta_max": jnp.asarray(np.max(np.sum(a * a, axis=1)) + l2, dtype),
        },
        name=name or ("ridge" if l2 > 0 else "least_squares"),
    )


def ridge(l2: float = 0.1, features: Any = None, targets: Any = None, **kwargs: Any) -> FiniteSum:
    """Ridge regression: :func:`least_squares` with l2 > 0 (strongly convex, mu >= l2).

    Args:
        l2: The ridge weight, > 0.
        features: A (n, d) (None: synthetic).
        targets: b, (n,) (None: synthetic).
        **kwargs: As in :func:`least_squares`.

    Returns:
        The finite-sum problem (:class:`FiniteSum`).
    """
    _validate.positive("l2", l2)
    return least_squares(features, targets, l2=l2, **kwargs)


def _logistic_fn(w, batch, l2):
    margins = batch["labels"] * (batch["features"] @ w)
    return jnp.mean(jax.nn.softplus(-margins)) + 0.5 * l2 * jnp.sum(w * w)


def _logistic_newton(z: np.ndarray, s: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """x*, f* of (1/n) sum_i log(1 + exp(-s_i z_i^T w)) + l2/2 ||w||^2 by Newton's method in float64."""
    n, d = z.shape
    w = np.zeros(d)
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * s * (z @ w)))  # sigmoid(margin)
        step = np.linalg.solve((z.T * (p * (1 - p))) @ z / n + l2 * np.eye(d), -(z.T @ (s * (1 - p))) / n + l2 * w)
        w = w - step
        if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(w)):
            break
    return w, float(np.mean(np.logaddexp(0.0, -s * (z @ w))) + 0.5 * l2 * w @ w)


def _class_labels(labels: Any, n: int, binary: bool) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must be ({n},) to match features, got shape {y.shape}")
    if binary and not np.all(np.isin(y, (-1, 0, 1))):
        raise ValueError("labels must be in {0, 1} or {-1, +1}")
    if not binary and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise ValueError(f"labels must be integer classes 0 .. K-1, got dtype {y.dtype}, min {y.min()}")
    return np.where(y > 0, 1.0, -1.0) if binary else y.astype(np.int32)


def _features(features: Any) -> np.ndarray:
    z = np.asarray(features, float)
    if z.ndim != 2:
        raise ValueError(f"features must be (n, d), got shape {z.shape}")
    return z


def logistic_regression(
    l2: float = 1e-2, features: Any = None, labels: Any = None, *, name: str | None = None
) -> FiniteSum:
    """:func:`jaxgd.problems.logistic_regression` (breast cancer, 569 x 31) as a finite sum.

    f_i(w) = log(1 + exp(-y_i z_i^T w)) + l2/2 ||w||^2; the same data, x* and f*.
    beta = lambda_max(Z^T Z)/(4n) + l2, mu = l2, beta_max = max_i ||z_i||^2 / 4 + l2.
    With ``features`` (n, d) and ``labels`` (n,) in {0, 1} or {-1, +1} (a training split, say): the same
    loss on them as given (add a bias column yourself), x* and f* by Newton's method in float64.

    Args:
        l2: The regularisation strength, > 0.
        features: Optional (n, d) features in place of the breast-cancer set (with ``labels``).
        labels: Optional (n,) labels in {0, 1} or {-1, +1} (with ``features``).
        name: The problem's name (default ``"logistic_breast_cancer"``).

    Returns:
        The finite-sum problem (:class:`FiniteSum`).
    """
    _validate.positive("l2", l2)
    if (features is None) != (labels is None):
        raise ValueError("give both features and labels, or neither (the breast-cancer set)")
    if features is None:
        p = _problems.logistic_regression(l2)
        z, y, l2_, w, value = p.data["features"], p.data["labels"], p.data["l2"], p.minimizers[0], p.minimum
    else:
        z_np = _features(features)
        s = _class_labels(labels, z_np.shape[0], binary=True)
        w_np, f_np = _logistic_newton(z_np, s, float(l2))
        dtype = _dtype()
        z, y, l2_ = jnp.asarray(z_np, dtype), jnp.asarray(s, dtype), jnp.asarray(l2, dtype)
        w, value = jnp.asarray(w_np, dtype), jnp.asarray(f_np, dtype)
    return FiniteSum(
        _logistic_fn,
        {"features": z, "labels": y},
        consts={"l2": l2_},
        x0=jnp.zeros_like(w),
        minimizer=w,
        minimum=value,
        constants={
            "beta": _problems.logistic_beta(z, l2_),
            "mu": _problems.logistic_alpha(z, l2_),
            "beta_max": jnp.max(jnp.sum(z * z, axis=1)) / 4 + l2_,
        },
        name=name or "logistic_breast_cancer",
    )


def _softmax_fn(w, batch, l2):
    logits = batch["features"] @ w
    log_p = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.mean(jnp.take_along_axis(log_p, batch["labels"][:, None], axis=-1))
    return nll + 0.5 * l2 * jnp.sum(w * w)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    z = np.hstack([x / 16.0, np.ones((x.shape[0], 1))])
    z.setflags(write=False)
    return z, y.astype(np.int32)


def _softmax_parts(w: np.ndarray, z: np.ndarray, y: np.ndarray, l2: float):
    logits = z @ w
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    n = z.shape[0]
    value = -np.mean(np.log(p[np.arange(n), y])) + 0.5 * l2 * np.sum(w * w)
    resid = p.copy()
    resid[np.arange(n), y] -= 1.0
    return value, z.T @ resid / n + l2 * w, p


def _softmax_hessian(z: np.ndarray, p: np.ndarray, l2: float) -> np.ndarray:
    """The (65 * 10)-square Hessian in the order of ``W.ravel()``: blocks Z^T diag(p_k (delta_kl - p_l)) Z / n."""
    n, d = z.shape
    k = p.shape[1]
    h = np.zeros((d, k, d, k))
    for a in range(k):
        for b in range(a, k):
            w = p[:, a] * ((a == b) - p[:, b])
            block = (z * w[:, None]).T @ z / n
            h[:, a, :, b] = block
            h[:, b, :, a] = block.T
    return h.reshape(d * k, d * k) + l2 * np.eye(d * k)


@functools.lru_cache(maxsize=8)
def _softmax_solution(l2: float) -> tuple[np.ndarray, float]:
    """x*, f* on the whole digits set (cached)."""
    return _softmax_newton(*_digits(), l2)


_SOLVED: dict[str, tuple[np.ndarray, float]] = {}


def _softmax_newton(z: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Newton's method with backtracking in float64, to a gradient norm of 1e-13 (cached by the data's hash).

    BLAS runs on one thread: these small products are 30x slower multi-threaded on a busy machine.
    """
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn, which loads the data

    key = hashlib.sha256(np.float64(l2).tobytes() + np.ascontiguousarray(z).tobytes() + y.tobytes()).hexdigest()
    if key not in _SOLVED:
        with threadpool_limits(1):
            _SOLVED[key] = _newton_softmax(z, y, l2)
    return _SOLVED[key]


def _newton_softmax(z: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    w = np.zeros((z.shape[1], int(y.max()) + 1))
    for _ in range(100):
        value, g, p = _softmax_parts(w, z, y, l2)
        if np.linalg.norm(g) < 1e-13:
            break
        step = -np.linalg.solve(_softmax_hessian(z, p, l2), g.ravel()).reshape(w.shape)
        t = 1.0
        while _softmax_parts(w + t * step, z, y, l2)[0] > value + 1e-4 * t * np.sum(g * step) and t > 1e-10:
            t *= 0.5
        w = w + t * step
    return w, float(_softmax_parts(w, z, y, l2)[0])


def softmax_regression(
    l2: float = 1e-3, features: Any = None, labels: Any = None, *, name: str | None = None
) -> FiniteSum:
    """Multinomial logistic regression on scikit-learn's digits (1797 images, 64 pixels / 16 and a bias, 10 classes).

    f_i(W) = -log softmax(z_i^T W)_{y_i} + l2/2 ||W||_F^2, W of shape (65, 10). x* by Newton's method in
    float64 (cached). beta <= lambda_max(Z^T Z / n) / 2 + l2 (the log-sum-exp Hessian is at most I/2),
    mu = l2, beta_max = max_i ||z_i||^2 / 2 + l2. With ``features`` (n, d) and integer ``labels`` (n,) in
    0 .. K-1 (a training split, say): the same loss on them as given, W of shape (d, K = max label + 1).

    Args:
        l2: The regularisation strength, > 0.
        features: Optional (n, d) features in place of the digits set (with ``labels``).
        labels: Optional (n,) integer labels in 0 .. K-1 (with ``features``).
        name: The problem's name (default ``"softmax_digits"``).

    Returns:
        The finite-sum problem (:class:`FiniteSum`).
    """
    _validate.positive("l2", l2)
    if (features is None) != (labels is None):
        raise ValueError("give both features and labels, or neither (the digits set)")
    if features is None:
        z, y = _digits()
        w, value = _softmax_solution(float(l2))
    else:
        z = _features(features)
        y = _class_labels(labels, z.shape[0], binary=False)
        w, value = _softmax_newton(z, y, float(l2))
    dtype = _dtype()
    lam = np.linalg.eigvalsh(z.T @ z / z.shape[0])[-1]
    return FiniteSum(
        _softmax_fn,
        {"features": jnp.asarray(z, dtype), "labels": jnp.asarray(y)},
        consts={"l2": jnp.asarray(l2, dtype)},
        x0=jnp.zeros(w.shape, dtype),
        minimizer=jnp.asarray(w, dtype),
        minimum=jnp.asarray(value, dtype),
        constants={
            "beta": jnp.asarray(lam / 2 + l2, dtype),
            "mu": jnp.asarray(l2, dtype),
            "beta_max": jnp.asarray(np.max(np.sum(z * z, axis=1)) / 2 + l2, dtype),
        },
        name=name or "softmax_digits",
    )
