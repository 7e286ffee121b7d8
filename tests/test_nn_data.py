"""jaxgd.nn.data: scikit-learn datasets, stratified splits, train-only standardisation, shuffled mini-batches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import datasets

from jaxgd.nn import data as D


@pytest.fixture(scope="module")
def cancer_raw():
    return datasets.load_breast_cancer(return_X_y=True)


def _row_ids(raw_x, x):
    """Index of each row of x in raw_x (breast cancer rows are distinct), by nearest neighbour."""
    dist = np.abs(x[:, None, :] - raw_x[None, :, :]).max(-1) / np.abs(raw_x).max()
    ids = dist.argmin(1)
    assert np.all(dist[np.arange(len(x)), ids] < 1e-12)
    return ids


def test_digits_shapes_and_stratified_sizes():
    s = D.load("digits", seed=0, val_fraction=0.2, test_fraction=0.2)
    assert s.num_classes == 10 and s.num_features == 64
    n = [len(s.train.y), len(s.val.y), len(s.test.y)]
    assert sum(n) == 1797
    _, y = datasets.load_digits(return_X_y=True)
    for c in range(10):
        n_c = int(np.sum(y == c))
        assert int(np.sum(np.asarray(s.test.y) == c)) == round(0.2 * n_c)
        assert int(np.sum(np.asarray(s.val.y) == c)) == round(0.2 * n_c)
    assert s.train.x.dtype == jnp.float32 and s.train.y.dtype == jnp.int32


def test_split_is_a_partition_and_standardised_with_train_statistics(cancer_raw):
    x_raw, y_raw = cancer_raw
    with jax.enable_x64(True):
        s = D.load("breast_cancer", seed=3)
    assert s.num_classes == 2 and s.num_features == 30
    ids = {}
    for name in ("train", "val", "test"):
        part = getattr(s, name)
        raw = np.asarray(part.x, np.float64) * np.asarray(s.standardizer.scale) + np.asarray(s.standardizer.mean)
        ids[name] = _row_ids(x_raw, raw)
        np.testing.assert_array_equal(np.asarray(part.y), y_raw[ids[name]])
    everything = np.concatenate(list(ids.values()))
    assert len(everything) == len(set(everything)) == len(y_raw)
    train_raw = x_raw[ids["train"]]
    np.testing.assert_allclose(np.asarray(s.standardizer.mean), train_raw.mean(0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(s.standardizer.scale), train_raw.std(0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(s.train.x).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(s.train.x).std(0), 1.0, atol=1e-12)
    # validation data is transformed with the training statistics, so it is not exactly centred
    assert np.max(np.abs(np.asarray(s.val.x).mean(0))) > 1e-3


def test_constant_features_get_unit_scale():
    s = D.load("digits", seed=0)
    x_raw, _ = datasets.load_digits(return_X_y=True)
    assert np.any(x_raw.std(0) == 0)  # pixel 0 is always blank
    assert np.all(np.asarray(s.standardizer.scale) > 0)
    assert np.all(np.isfinite(np.asarray(s.train.x)))


def test_seed_determines_split_and_train_size_subsamples():
    a, b, c = D.load("digits", seed=1), D.load("digits", seed=1), D.load("digits", seed=2)
    np.testing.assert_array_equal(np.asarray(a.train.x), np.asarray(b.train.x))
    assert not np.array_equal(np.asarray(a.train.y), np.asarray(c.train.y))
    small = D.load("digits", seed=1, train_size=100)
    assert small.train.x.shape == (100, 64)
    assert small.val.x.shape == a.val.x.shape


def test_float64_inside_x64():
    with jax.enable_x64(True):
        s = D.load("breast_cancer", seed=0)
        assert s.train.x.dtype == jnp.float64


def test_batch_indices_are_a_shuffled_epoch_with_the_partial_batch_dropped():
    n, b = 103, 10
    idx = np.asarray(D.batch_indices(jax.random.key(0), n, b))
    assert idx.shape == (10, 10)
    assert len(set(idx.ravel())) == 100 and idx.min() >= 0 and idx.max() < n
    other = np.asarray(D.batch_indices(jax.random.key(1), n, b))
    assert not np.array_equal(idx, other)
    np.testing.assert_array_equal(np.asarray(D.batch_indices(jax.random.key(0), n, None)), np.arange(n)[None])
    assert D.num_batches(n, b) == 10 and D.num_batches(n, None) == 1


def test_scan_epoch_under_jit_matches_the_python_iterator():
    x = jnp.arange(50.0).reshape(25, 2)
    data = D.Dataset(x, jnp.arange(25, dtype=jnp.int32))
    key = jax.random.key(4)

    @jax.jit
    def epoch(key):
        def step(total, batch):
            return total + jnp.sum(batch.x), jnp.sum(batch.y)

        return D.scan_epoch(step, jnp.zeros([]), key, data, 4)

    total, per_batch = epoch(key)
    batches = list(D.iterate_batches(key, data, 4))
    assert len(batches) == 6 and per_batch.shape == (6,)
    np.testing.assert_allclose(float(total), sum(float(jnp.sum(bt.x)) for bt in batches))
    np.testing.assert_array_equal(np.asarray(per_batch), [int(jnp.sum(bt.y)) for bt in batches])
    for bt in batches:  # x and y stay aligned
        np.testing.assert_array_equal(np.asarray(bt.x[:, 0]), 2 * np.asarray(bt.y))


def test_bad_data_raises_clear_errors():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match=r"label 5, outside \[0, 3\)"):
        D.make_dataset(x, np.array([0, 1, 2, 5, 0, 1, 2, 0, 1, 2]), num_classes=3)
    with pytest.raises(ValueError, match="label -1"):
        D.make_dataset(x, np.full(10, -1), num_classes=3)
    with pytest.raises(TypeError, match="integer class labels"):
        D.make_dataset(x, np.zeros(10), num_classes=3)
    with pytest.raises(ValueError, match="has 3 features, the model expects 4"):
        D.check_dataset(D.make_dataset(x, np.zeros(10, int)), num_features=4)
    with pytest.raises(ValueError, match="shape"):
        D.make_dataset(x, np.zeros(9, int))
    with pytest.raises(ValueError, match="batch_size=11 exceeds"):
        D.batch_indices(jax.random.key(0), 10, 11)
    with pytest.raises(ValueError, match="val_fraction"):
        D.load("digits", val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="name must be one of"):
        D.load("mnist")
    with pytest.raises(ValueError, match="train_size"):
        D.load("breast_cancer", train_size=10_000)
