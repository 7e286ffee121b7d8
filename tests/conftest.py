"""Test-suite plumbing: the longest files are handed out first, so that pytest-xdist's workers finish together."""

LONG_FIRST = ("test_experiments.py", "test_notebooks.py", "test_second_order.py", "test_minimize_scipy.py",
              "test_nn_train.py", "test_nn_batchnorm.py", "test_packaging.py", "test_cli_faults.py")  # fmt: skip


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: file order kept otherwise
