"""Sweep files: a sweep resumes only its own, a finished one loads whole, a bad one is refused by name, saving is
linear in the runs, and a sweep killed at any moment resumes to the uninterrupted result bit for bit."""

import contextlib
import dataclasses
import errno
import functools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import files
from jaxgd import sweeps as S
from jaxgd.sweeps import driver, engine, result, store
from jaxgd.sweeps.fingerprint import PARTS

RAVINE = jaxgd.problems.ravine(50.0)
SPACE = {"learning_rate": [0.01, 0.02, 0.03, 0.04]}
X0 = jnp.array([1.0, 2.0])
FIELDS = ("final_loss", "best_loss", "final_grad_norm", "tol_step", "diverge_step", "final_params", "curve")
MOMENTUM = functools.partial(jaxgd.momentum, momentum=0.9)


def quad(x):
    return jnp.sum(x**2)


def shifted(c):
    c = jnp.asarray(c)
    return lambda x: jnp.sum((x - c) ** 2)


def no_compile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("compiled before the error")

    monkeypatch.setattr(engine, "sweep_chunk", fail)


def stop_after(monkeypatch, n):
    """Make the sweep raise KeyboardInterrupt when its chunk n + 1 would start."""
    real, calls = driver._run_chunk, []

    def run(*args):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(driver, "_run_chunk", run)


def assert_same(a, b, rows=slice(None)):
    for k in FIELDS:
        x, y = getattr(a, k), getattr(b, k)
        if x is None or y is None:
            assert x is None and y is None, k
        else:
            np.testing.assert_array_equal(x[rows], y[rows], err_msg=k)


# --------------------------------------------------------------------------- a file of another sweep is refused


def test_a_partial_file_of_another_loss_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "m.npz"
    stop_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(jaxgd.sgd, quad, SPACE, 5, x0=X0, out=out, chunk_size=1)
    monkeypatch.undo()
    assert S.SweepResult.load(out).completed == 2
    no_compile(monkeypatch)
    message = r"'.*m\.npz' holds a different sweep: it differs from this call in its loss\. Delete it or move it"
    with pytest.raises(S.SweepFileError, match=message):
        S.sweep(jaxgd.sgd, lambda x: jnp.sum((x - 10.0) ** 2), SPACE, 5, x0=X0, out=out, chunk_size=1)


BASES = {
    "closure": dict(make=functools.partial(jaxgd.momentum, momentum=0.5), problem=shifted([0.0, 0.0]), x0=X0),
    "problem": dict(make=lambda learning_rate: jaxgd.sgd(learning_rate), problem=jaxgd.problems.booth()),
    "data": dict(make=jaxgd.sgd, problem=jaxgd.problems.ravine(50.0)),
}


@pytest.fixture(scope="module")
def base_folders(tmp_path_factory):
    """One saved sweep per base (4 configurations, one per chunk, 5 steps): "data" stopped after 2 chunks (a
    folder), the others finished (a file)."""
    folders = {}
    for name, base in BASES.items():
        folders[name] = tmp_path_factory.mktemp(name) / "m.npz"
        base = dict(base)
        with pytest.MonkeyPatch.context() as monkeypatch, contextlib.suppress(KeyboardInterrupt):
            stop_after(monkeypatch, 2 if name == "data" else 4)
            S.sweep(base.pop("make"), base.pop("problem"), SPACE, 5, out=folders[name], chunk_size=1, **base)
    assert folders["data"].is_dir() and folders["closure"].is_file()
    return folders


@pytest.mark.parametrize(
    "base, part, change",
    [
        ("closure", "loss", dict(problem=lambda x: jnp.sum((x - 10.0) ** 2))),
        ("closure", "loss", dict(problem=shifted([0.0, 1.0]))),  # a changed closure constant
        ("closure", "optimizer", dict(make=functools.partial(jaxgd.momentum, momentum=0.9))),
        ("closure", "optimizer", dict(make=lambda learning_rate: jaxgd.adam(learning_rate))),
        ("closure", "starts", dict(x0=jnp.array([1.0, 3.0]))),
        ("closure", "space", dict(space={"learning_rate": [0.01, 0.02, 0.03, 0.05]})),
        ("closure", "settings", dict(steps=6)),
        ("closure", "settings", dict(tol=1e-3)),
        ("closure", "settings", dict(blowup_floor=2.0)),
        ("problem", "loss", dict(problem=jaxgd.problems.himmelblau(x0=(-5.0, -5.0)))),  # booth's start
        ("problem", "optimizer", dict(make=lambda learning_rate: jaxgd.adam(learning_rate))),  # same name
        ("data", "data", dict(problem=jaxgd.problems.ravine(10.0))),
    ],
)
def test_a_file_of_another_sweep_is_refused_naming_what_differs(base_folders, monkeypatch, base, part, change):
    kwargs = {**BASES[base], "space": SPACE, "steps": 5, **change}
    args = [kwargs.pop(k) for k in ("make", "problem", "space", "steps")]
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=rf"holds a different sweep: it differs from this call in its {part}\."):
        S.sweep(*args, out=base_folders[base], chunk_size=1, **kwargs)
    assert S.SweepResult.load(base_folders[base]).completed == (2 if base == "data" else 4)  # left as it was


@pytest.mark.parametrize("part, value", [("devices", "2 x cpu (cpu)"), ("software", "jax 0.0.1")])
def test_a_file_of_other_devices_or_software_is_refused_showing_both(base_folders, tmp_path, monkeypatch, part, value):
    out = tmp_path / "m.npz"
    shutil.copytree(base_folders["data"], out)
    index = json.loads((out / "index.json").read_text())
    index["fingerprint"][part] = value
    (out / "index.json").write_text(json.dumps(index))
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=rf"in its {part} \(file: {re.escape(value)}; now: .+\)\. Delete"):
        S.sweep(jaxgd.sgd, jaxgd.problems.ravine(50.0), SPACE, 5, out=out, chunk_size=1)


# --------------------------------------------------------------------------- a finished sweep, chunk sizes, rounds


def test_a_finished_sweep_loads_whole_on_the_next_call(tmp_path, monkeypatch):
    out = tmp_path / "m.npz"
    full = S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, out=out, chunk_size=1, tol=1.0, curve_every=5)
    no_compile(monkeypatch)
    again = S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, out=out, chunk_size=1, tol=1.0, curve_every=5)
    assert out.is_file() and os.listdir(tmp_path) == ["m.npz"]  # the finished sweep is one .npz
    with np.load(out) as z:
        np.testing.assert_array_equal(z["final_loss"], full.final_loss)
    assert again.done and again.completed == again.num_configs == 4
    assert_same(again, full)
    assert again.best() == full.best() and again.info == full.info
    np.testing.assert_array_equal(S.refine(again).columns["learning_rate"], S.refine(full).columns["learning_rate"])
    again.save(tmp_path / "whole.npz")
    for back in (S.SweepResult.load(tmp_path / "whole.npz"), S.SweepResult.load(out)):
        assert back.completed == 4 and back.info == full.info
        assert_same(back, full)
        np.testing.assert_array_equal(back.hyperparams["learning_rate"], full.hyperparams["learning_rate"])


def test_a_resume_keeps_the_chunk_size_of_its_file(tmp_path, monkeypatch):
    # Results are bitwise reproducible for one chunk size; between chunk sizes they may differ at rounding level,
    # so a resume adopts its file's chunk size (chunk_size=None) or refuses another one given.
    problem, space = jaxgd.problems.rosenbrock(), {"learning_rate": np.geomspace(1e-4, 1e-3, 6)}
    ref = S.sweep(MOMENTUM, problem, space, 60, chunk_size=3, curve_every=10)
    assert_same(S.sweep(MOMENTUM, problem, space, 60, chunk_size=3, curve_every=10), ref)
    out = tmp_path / "m.npz"
    stop_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(MOMENTUM, problem, space, 60, chunk_size=3, curve_every=10, out=out)
    monkeypatch.undo()
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=r"in chunks of 3 runs, this call asks for chunks of 2.*chunk_size=None"):
        S.sweep(MOMENTUM, problem, space, 60, chunk_size=2, curve_every=10, out=out)
    monkeypatch.undo()
    resumed = S.sweep(MOMENTUM, problem, space, 60, chunk_size=None, curve_every=10, out=out)
    assert_same(resumed, ref)
    assert_same(S.SweepResult.load(out), ref)
    with np.load(out) as z:
        assert json.loads(str(z["meta"]))["configs_per_chunk"] == 3


def test_pytree_params_keep_their_paths_through_the_folder(tmp_path):
    # 11 leaves of 11 shapes, whose paths sort otherwise ("[10]" < "[2]") than the leaves: written chunk by
    # chunk, resumed into a fresh result and read back, each leaf stays itself (no compiling: the store alone).
    def fresh():
        like = tuple(np.zeros(i + 1, np.float32) for i in range(11))
        return result.empty_result({"learning_rate": np.array([0.1, 0.2, 0.3])}, 1, 1, 5, np.float32, like, None, {})

    filled = fresh()
    for i, leaf in enumerate(filled.final_params):
        leaf[:] = np.arange(leaf.size).reshape(leaf.shape) + 100 * i
    for k in ("final_loss", "best_loss", "final_grad_norm"):
        getattr(filled, k)[:] = [1.0, 2.0, 3.0]
    out, fingerprint = tmp_path / "m.npz", {part: "same" for part in PARTS}
    _, writer = store.open_out(out, fresh(), fingerprint, 1, chunk_given=True)
    for lo in (0, 1):
        writer.write(dataclasses.replace(filled, completed=lo + 1), lo, lo + 1)
    resumed, _ = store.open_out(out, fresh(), fingerprint, 1, chunk_given=True)
    loaded = S.SweepResult.load(out)
    assert resumed.completed == loaded.completed == 2
    assert list(loaded.final_params) == [f"[{i}]" for i in range(11)]
    for i in range(11):
        np.testing.assert_array_equal(resumed.final_params[i][:2], filled.final_params[i][:2])
        np.testing.assert_array_equal(loaded.final_params[f"[{i}]"][:2], filled.final_params[i][:2])
    loaded.save(tmp_path / "whole.npz")
    again = S.SweepResult.load(tmp_path / "whole.npz")
    assert list(again.final_params) == [f"[{i}]" for i in range(11)]
    np.testing.assert_array_equal(again.final_params["[10]"][:2], filled.final_params[10][:2])


@pytest.mark.parametrize("killed", ["between the renames", "before removing the folder"])
def test_a_sweep_killed_while_finishing_loads_and_finishes_on_the_next_call(tmp_path, monkeypatch, killed):
    out = tmp_path / "m.npz"
    full = S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, chunk_size=2)
    real_rename, renames = os.rename, []

    def rename(src, dst):
        renames.append(dst)
        if killed == "between the renames" and len(renames) == 2:
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(store.os, "rename", rename)
    if killed == "before removing the folder":
        monkeypatch.setattr(store, "_remove_folder", lambda path: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, chunk_size=2, out=out)
    monkeypatch.undo()
    assert (tmp_path / ".m.npz.parts").is_dir() and out.exists() == (killed == "before removing the folder")
    assert_same(S.SweepResult.load(out), full)  # loads all the same
    shutil.copytree(tmp_path, tmp_path.parent / f"{tmp_path.name}_copy")
    S.delete(tmp_path.parent / f"{tmp_path.name}_copy" / "m.npz")  # deletes all of it
    assert os.listdir(tmp_path.parent / f"{tmp_path.name}_copy") == []
    no_compile(monkeypatch)
    assert_same(S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, chunk_size=2, out=out), full)
    assert out.is_file() and os.listdir(tmp_path) == ["m.npz"]


def test_coarse_to_fine_saves_each_round_in_its_own_folder(tmp_path, monkeypatch):
    space = {"learning_rate": np.geomspace(1e-3, 0.05, 4)}
    rounds = S.coarse_to_fine(jaxgd.sgd, RAVINE, space, 20, rounds=2, out=tmp_path / "c.npz", chunk_size=2)
    assert sorted(os.listdir(tmp_path)) == ["c.round0.npz", "c.round1.npz"]
    no_compile(monkeypatch)
    again = S.coarse_to_fine(jaxgd.sgd, RAVINE, space, 20, rounds=2, out=tmp_path / "c.npz", chunk_size=2)
    for a, b in zip(rounds, again, strict=True):
        assert b.done
        assert_same(a, b)


# --------------------------------------------------------------------------- out unwritable, a save that fails


def test_an_unwritable_out_fails_before_compiling(tmp_path, monkeypatch):
    no_compile(monkeypatch)
    with pytest.raises(ValueError, match="out is an empty path"):
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 5, out="")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"out='.*a_file/m\.npz' cannot be written"):
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 5, out=blocker / "m.npz")
    with pytest.raises(S.SweepFileError, match=r"a_file' is not an \.npz file"):
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 5, out=blocker)
    if os.geteuid() != 0:  # root writes into a read-only folder all the same
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(PermissionError, match="cannot be written"):
            S.sweep(jaxgd.sgd, RAVINE, SPACE, 5, out=locked / "m.npz")
        assert os.listdir(locked) == []


def test_a_save_that_fails_carries_the_result_so_far(tmp_path, monkeypatch):
    full = S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, chunk_size=1)
    real, calls = store.Writer.write, []

    def disk_full_on_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(store.Writer, "write", disk_full_on_second)
    with pytest.raises(OSError, match="No space left") as info:
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 20, chunk_size=1, out=tmp_path / "m.npz")
    partial = info.value.result
    assert partial.completed == 2 and "is this error's .result" in info.value.__notes__[0]
    assert_same(partial, full, slice(0, 2))
    assert np.isnan(partial.final_loss[2:]).all()
    assert S.SweepResult.load(tmp_path / "m.npz").completed == 1  # the folder holds what was saved


# --------------------------------------------------------------------------- corrupt or tampered files


def _rewrite_npz(path, change):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _set_meta(**values):
    def change(arrays):
        arrays["meta"] = np.asarray(json.dumps({**json.loads(str(arrays["meta"])), **values}))

    return change


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


WHOLE_FILE_DAMAGE = {
    "truncated": (_truncate, r"is truncated or damaged \(BadZipFile"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(3000)), "is not an .npz file"),
    "a text file": (lambda p: p.write_text("final_loss = 1.0\n"), "is not an .npz file"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "completed beyond the rows": (lambda p: _rewrite_npz(p, _set_meta(completed=5)), "counts 5 completed .* of 4"),
    "completed negative": (lambda p: _rewrite_npz(p, _set_meta(completed=-1)), "has completed=-1"),
    "a short array": (
        lambda p: _rewrite_npz(p, lambda a: a.update(final_loss=a["final_loss"][:-1])),
        r"has final_loss of shape \(3,\), not \(4,\) for its 4 runs",
    ),
    "no metadata": (lambda p: _rewrite_npz(p, lambda a: a.pop("meta")), "has no metadata"),
}


@pytest.fixture(scope="module")
def small_result():
    return S.sweep(jaxgd.sgd, RAVINE, SPACE, 10, chunk_size=1, curve_every=5)


@pytest.mark.parametrize("damage", list(WHOLE_FILE_DAMAGE))
def test_a_damaged_result_file_is_refused_by_name(small_result, tmp_path, damage):
    path = tmp_path / "r.npz"
    small_result.save(path)
    spoil, what = WHOLE_FILE_DAMAGE[damage]
    spoil(path)
    with pytest.raises(S.SweepFileError, match=rf"sweep file '.*r\.npz' {what}.*delete it or move it away"):
        S.SweepResult.load(path)


def _set_index(**values):
    def spoil(folder):
        index = json.loads((folder / "index.json").read_text())
        (folder / "index.json").write_text(json.dumps({**index, **values}))

    return spoil


def _chunk(folder, i=1):
    return folder / store.chunk_name(i, i + 1)


FOLDER_DAMAGE = {
    "index truncated": (lambda f: _truncate(f / "index.json"), "has an index.json that is not JSON"),
    "index of random bytes": (
        lambda f: (f / "index.json").write_bytes(np.random.default_rng(0).bytes(300)),
        "has an index.json that is not JSON",
    ),
    "index of another format": (
        lambda f: (f / "index.json").write_text("[1, 2]"),
        "has an index.json of another format",
    ),
    "completed beyond the rows": (_set_index(completed=9), "counts 9 completed configurations of 4"),
    "completed negative": (_set_index(completed=-1), "has completed=-1"),
    "completed not whole chunks": (
        _set_index(completed=2, configs_per_chunk=3),
        "counts 2 completed configurations, not whole chunks of 3",
    ),
    "chunk truncated": (
        lambda f: _truncate(_chunk(f)),
        "has chunk-000000001-000000002.npz that is truncated or damaged",
    ),
    "chunk of random bytes": (
        lambda f: _chunk(f).write_text("hello"),
        "has chunk-000000001-000000002.npz that is not an .npz file",
    ),
    "chunk missing": (lambda f: _chunk(f).unlink(), "lacks chunk-000000001-000000002.npz"),
    "chunk with a short array": (
        lambda f: _rewrite_npz(_chunk(f), lambda a: a.update(best_loss=a["best_loss"][:0])),
        r"has best_loss of float32\[0\] in chunk-000000001-000000002.npz, not float32\[1\]",
    ),
    "head missing": (lambda f: (f / "head.npz").unlink(), "lacks head.npz"),
}


@pytest.mark.parametrize("damage", list(FOLDER_DAMAGE))
def test_a_damaged_sweep_folder_is_refused_by_name_when_loaded_or_resumed(base_folders, tmp_path, monkeypatch, damage):
    out = tmp_path / "m.npz"
    shutil.copytree(base_folders["data"], out)
    spoil, what = FOLDER_DAMAGE[damage]
    spoil(out)
    message = rf"sweep file '.*m\.npz' {what}.*delete it or move it away"
    with pytest.raises(S.SweepFileError, match=message):
        S.SweepResult.load(out)
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=message):
        S.sweep(jaxgd.sgd, jaxgd.problems.ravine(50.0), SPACE, 5, out=out, chunk_size=1)


def test_a_folder_of_other_files_is_not_taken_for_a_sweep(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    no_compile(monkeypatch)
    with pytest.raises(S.SweepFileError, match=r"is a folder of other files \(notes\.txt\), not a sweep's: give"):
        S.sweep(jaxgd.sgd, RAVINE, SPACE, 5, out=tmp_path)
    with pytest.raises(S.SweepFileError, match=r"holds other files than a sweep's \(notes\.txt\): not deleted"):
        S.delete(tmp_path)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_delete_removes_a_sweeps_folder_and_a_new_sweep_starts_there(base_folders, small_result, tmp_path):
    out = tmp_path / "m.npz"
    shutil.copytree(base_folders["data"], out)
    (out / f".index.json.{os.getpid()}.tmp").write_bytes(b"half")
    S.delete(out)
    small_result.save(tmp_path / "r.npz")
    S.delete(tmp_path / "r.npz")
    assert os.listdir(tmp_path) == []
    again = S.sweep(jaxgd.sgd, jaxgd.problems.ravine(50.0), SPACE, 5, out=out, chunk_size=1)
    assert_same(again, S.SweepResult.load(base_folders["data"]), slice(0, 2))


def test_stale_temporary_files_are_removed_on_the_next_save(small_result, base_folders, tmp_path, monkeypatch):
    dead, live = 999_999_999, os.getppid()  # no process has the first id; the second is running
    out = tmp_path / "m.npz"
    shutil.copytree(base_folders["data"], out)
    for name in (f".chunk-000000002-000000003.npz.{dead}.tmp", f".index.json.{dead}.tmp", f".index.json.{live}.tmp"):
        (out / name).write_bytes(b"half")
    stop_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(jaxgd.sgd, jaxgd.problems.ravine(50.0), SPACE, 5, out=out, chunk_size=1)
    assert sorted(os.listdir(out)) == sorted([f".index.json.{live}.tmp", "head.npz", "index.json"] +
                                             [store.chunk_name(i, i + 1) for i in range(3)])  # fmt: skip
    for name in (f".r.npz.{dead}.tmp", f".other.npz.{dead}.tmp"):
        (tmp_path / name).write_bytes(b"half")
    small_result.save(tmp_path / "r.npz")
    assert sorted(os.listdir(tmp_path)) == [f".other.npz.{dead}.tmp", "m.npz", "r.npz"]


# --------------------------------------------------------------------------- linear saving, killed sweeps


def test_saving_writes_each_run_once(tmp_path, monkeypatch):
    # 10 chunks of 2000 runs: the folder's files add up to about one whole result, not 10 rewrites of it.
    written = []
    real = files.write_bytes
    monkeypatch.setattr(files, "write_bytes", lambda path, data: written.append(len(data)) or real(path, data))
    space = {"learning_rate": np.geomspace(1e-4, 1e-2, 20_000)}
    res = S.sweep(jaxgd.sgd, RAVINE, space, 5, chunk_size=2000, out=tmp_path / "m.npz")
    # the head and an empty index, a chunk and an index each, then the finished sweep as one file
    assert res.done and len(written) == 2 + 2 * 10 + 1
    res.save(tmp_path / "whole.npz")
    whole = written[-1]
    assert sum(written[:-1]) < 2.2 * whole


CONFIGS = 24
KILLED_WORKER = f"""
import functools, sys
import jax, numpy as np, jaxgd
space = {{"learning_rate": np.geomspace(1e-4, 1e-3, {CONFIGS})}}
make = functools.partial(jaxgd.momentum, momentum=0.9)
jaxgd.sweep(make, jaxgd.problems.rosenbrock(), space, int(sys.argv[2]), chunk_size=1, curve_every=1000,
            out=sys.argv[1], devices=jax.devices("cpu")[:1])
"""


def _completed(out):
    try:
        return json.loads((out / "index.json").read_text())["completed"]
    except (OSError, ValueError):
        return -1


def _kill_at(out, steps, rng, target):
    """Run the worker; kill it with SIGKILL a random part of a chunk after it has saved ``target`` configurations
    (with ``target`` None: at a random moment of its start, importing, compiling or in its first chunks)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(Path(jaxgd.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WORKER, str(out), str(steps)], env=env)
    if target is None:  # a random moment of its start, but before its third chunk whatever the machine's speed
        deadline = time.monotonic() + rng.uniform(0.3, 1.5)
        while time.monotonic() < deadline and _completed(out) < 2 and proc.poll() is None:
            time.sleep(0.002)
    else:
        # Wait for the target and for two chunks seen end to end (the first saved one also timed the compile).
        ends, seen, start = [], _completed(out), time.monotonic()
        while (seen < target or len(ends) < 2) and proc.poll() is None and time.monotonic() - start < 60:
            time.sleep(0.002)
            if _completed(out) != seen:
                seen = _completed(out)
                ends = [*ends, time.monotonic()] if seen >= 2 else []
        time.sleep(rng.uniform(0.0, 1.0) * (ends[-1] - ends[-2] if len(ends) > 1 else 0.0))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the worker ended before it was killed"


def test_a_sweep_killed_at_random_moments_resumes_bitwise(tmp_path):
    # Each chunk is one run of 500k steps (about 0.1 s): the kills land in the worker's start, inside chunks and,
    # now and then, inside a save (leaving a temporary file the next run removes).
    steps, out, rng = 500_000, tmp_path / "m.npz", random.Random(15)
    _kill_at(out, steps, rng, None)
    partials = [S.SweepResult.load(out)] if (out / "index.json").exists() else []
    for _ in range(3):
        target = (partials[-1].completed if partials else 0) + rng.randint(1, 3)
        _kill_at(out, steps, rng, target)
        partials.append(S.SweepResult.load(out))  # the folder always loads ...
        assert partials[-1].completed >= target  # ... with every chunk it counted before the kill
    assert partials[-1].completed < CONFIGS, "the kills came too late to land inside the sweep"
    make = functools.partial(jaxgd.momentum, momentum=0.9)
    space = {"learning_rate": np.geomspace(1e-4, 1e-3, CONFIGS)}
    kwargs = dict(chunk_size=1, curve_every=1000, devices=jax.devices("cpu")[:1])
    resumed = S.sweep(make, jaxgd.problems.rosenbrock(), space, steps, out=out, **kwargs)
    whole = S.sweep(make, jaxgd.problems.rosenbrock(), space, steps, **kwargs)
    assert resumed.done
    assert_same(resumed, whole)
    assert_same(S.SweepResult.load(out), whole)
    for partial in partials:  # no finished chunk was lost or changed
        assert_same(partial, whole, slice(0, partial.completed))
    assert out.is_file() and os.listdir(tmp_path) == ["m.npz"]  # no temporary file left
