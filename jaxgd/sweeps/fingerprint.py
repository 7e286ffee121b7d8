"""What a sweep file records of the computation that wrote it, so that a sweep resumes only its own file.

A sweep's numbers are determined by its loss, its optimizer, the problems' data, the starts, the
space, the settings, and the devices and software that compiled it (and the chunk size, which the
file records on its own: :mod:`jaxgd.sweeps.store`). Each part is recorded apart, so that a file
of another sweep is refused with the parts that differ named. The computations are recorded as
digests of their jaxprs, constants' values included: the loss at the sweep's shapes and dtypes,
the optimizer's ``init`` and ``update`` with the space's names traced as in the chunk. So a new
lambda, a ``functools.partial`` with another fixed argument, a changed closure constant or another
problem with the same start all count as another sweep, whatever their names.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import jax
import jaxlib
import numpy as np

__all__ = ["PARTS", "differences", "of"]

PARTS = ("loss", "optimizer", "data", "starts", "space", "settings", "devices", "software")
READABLE = ("devices", "software")  # recorded as text, shown when they differ

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # function reprs inside a jaxpr's parameters


def of(prep: Any, settings: dict, devices: list[Any]) -> dict[str, str]:
    """The parts of the fingerprint of the sweep ``prep`` (:class:`jaxgd.sweeps.prepare.Prepared`).

    Args:
        prep: The prepared sweep (:func:`jaxgd.sweeps.prepare.prepare`).
        settings: The sweep's settings that change its numbers, JSON-serialisable.
        devices: The devices it runs on (the first names their kind and platform).

    Returns:
        A dict from each name of ``PARTS`` to its SHA-256 digest (or, for ``devices`` and ``software``, text).
    """
    import jaxgd

    loss_dynamic, x0_table = prep.shared[:2]
    return {
        "loss": jaxpr_digest(prep.loss_jaxpr),
        "optimizer": jaxpr_digest(prep.optimizer_jaxpr),
        "data": tree_digest(loss_dynamic),
        "starts": tree_digest(x0_table),
        "space": _digest(json.dumps(list(prep.space.names)).encode(), *prep.space.columns.values()),
        "settings": _digest(json.dumps(settings, sort_keys=True).encode()),
        "devices": f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform})",
        "software": f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, jaxgd {jaxgd.__version__}",
    }


def differences(saved: Any, now: dict[str, str]) -> list[str]:
    """The parts in which a file's fingerprint ``saved`` differs from ``now``, readable ones with both values.

    Args:
        saved: The fingerprint read from a file (anything but a dict differs in every part).
        now: The fingerprint of the sweep being run (:func:`of`).

    Returns:
        The differing parts' names in the order of ``PARTS``, ``devices`` and ``software`` with both values.
    """
    if not isinstance(saved, dict):
        return list(PARTS)
    out = []
    for part in PARTS:
        if saved.get(part) != now[part]:
            out.append(f"{part} (file: {saved.get(part)}; now: {now[part]})" if part in READABLE else part)
    return out


def jaxpr_digest(closed: Any) -> str:
    """SHA-256 of a closed jaxpr: its text (function addresses removed) and its constants' values."""
    text = _ADDRESS.sub("", str(closed.jaxpr))
    return _digest(text.encode(), *closed.consts)


def tree_digest(tree: Any) -> str:
    """SHA-256 of a pytree's structure and its leaves' dtypes, shapes and values."""
    leaves, treedef = jax.tree.flatten(tree)
    return _digest(str(treedef).encode(), *leaves)


def _digest(head: bytes, *arrays: Any) -> str:
    h = hashlib.sha256(head)
    for a in arrays:
        h.update(b"\0")
        h.update(_array_bytes(a))
    return h.hexdigest()


def _array_bytes(a: Any) -> bytes:
    """dtype, shape and values of an array (a typed PRNG key by its key data; anything else by its type)."""
    try:
        if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.extended):
            a = jax.random.key_data(a)
        arr = np.ascontiguousarray(np.asarray(a))
    except Exception:  # not an array: a constant jax could not hand over as one
        return f"<{type(a).__module__}.{type(a).__qualname__}>".encode()
    return f"{arr.dtype.str}{arr.shape}".encode() + arr.tobytes()
