"""What ``sweep(..., out=path)`` writes: a folder while it runs, one ``.npz`` once it has finished.

While the sweep runs, ``path`` is a folder holding

* ``head.npz``: the space's columns (one value per configuration) and the curve's steps, written once;
* ``chunk-<lo>-<hi>.npz``: the rows of configurations lo to hi - 1, one file per chunk;
* ``index.json``: the format, the sweep's fingerprint (:mod:`jaxgd.sweeps.fingerprint`), its counts and
  shapes, the configurations per chunk and ``completed``, the number of configurations saved.

Every file is written whole (a temporary file, flushed to disk, renamed over the old one), a chunk's
file before the index that counts it, so a process killed at any moment leaves a folder that loads
with every chunk its index counts; a chunk file the index does not count is written again. Each
chunk's rows are written once: saving costs time linear in the number of runs. When the last chunk
is saved the folder becomes one ``.npz`` at ``path``, the file :meth:`SweepResult.save` writes, with
the fingerprint and chunk size in its metadata: written whole beside it, then swapped in by two
renames (the folder to ``.<name>.parts``, the file to ``path``), which the next open completes or
undoes if a kill came between them. Temporary files of a killed process are removed on the next save.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgd import files
from jaxgd.sweeps.result import (
    SUMMARIES,
    SweepFileError,
    SweepResult,
    atomic_savez,
    check_meta,
    check_rows,
    copy_rows,
    empty_result,
    file_error,
    load_whole,
    need,
    read_npz,
    save_whole,
    summaries_of,
)

__all__ = ["Writer", "delete", "folder_of", "is_sweep_folder", "open_out", "read"]

FORMAT, VERSION = "jaxgd.sweep", 1
INDEX, HEAD = "index.json", "head.npz"
_CHUNK = re.compile(r"chunk-(\d+)-(\d+)\.npz")
_TMP = re.compile(r"\..+\.(\d+)\.tmp")  # jaxgd.files.atomic_path's temporary names: .NAME.PID.tmp


def is_sweep_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the folder of a sweep that has started: it holds an ``index.json``.

    Args:
        path: A path.

    Returns:
        True if ``path/index.json`` is a file.
    """
    return os.path.isfile(os.path.join(path, INDEX))


def parts_of(path: Path) -> Path:
    """Where a finished sweep's folder goes while its ``.npz`` takes its place."""
    return path.with_name(f".{path.name}.parts")


def folder_of(path: str | os.PathLike) -> Path | None:
    """The folder of sweep rows to read for ``path``: ``path`` itself, or its folder caught between the two
    renames that finish it; None where ``path`` is (or should be) a file.

    Args:
        path: A sweep's ``out`` path.

    Returns:
        The folder (a ``Path``), or None.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.exists() and parts_of(path).is_dir():
        return parts_of(path)
    return None


def chunk_name(lo: int, hi: int) -> str:
    return f"chunk-{lo:09d}-{hi:09d}.npz"


def _ours(name: str) -> bool:
    """A file a sweep's folder may hold."""
    return name in (INDEX, HEAD) or bool(_CHUNK.fullmatch(name) or _TMP.fullmatch(name))


def delete(path: str | os.PathLike) -> None:
    """Delete what a sweep with ``out=path`` wrote (its folder, its finished ``.npz``, both while it was
    finishing, and their temporary files), to start that sweep anew. Only a sweep's own files are removed:
    a folder holding others is refused (SweepFileError); FileNotFoundError if there is nothing.

    Args:
        path: The sweep's ``out`` path.

    Raises:
        FileNotFoundError: If there is no sweep at path.
        SweepFileError: If its folder holds files that are not a sweep's.
    """
    path = Path(path)
    found = [p for p in (path, parts_of(path)) if p.exists()]
    if not found:
        raise FileNotFoundError(f"no sweep at {os.fspath(path)!r}")
    for p in found:
        if p.is_dir():
            _remove_folder(p)
        else:
            p.unlink()
    for entry in os.listdir(path.parent):  # its temporary files (a finished .npz being written)
        if entry.startswith(f".{path.name}.") and _TMP.fullmatch(entry):
            (path.parent / entry).unlink()


def _remove_folder(path: Path) -> None:
    others = sorted(n for n in os.listdir(path) if not _ours(n))
    if others:
        raise SweepFileError(
            f"{os.fspath(path)!r} holds other files than a sweep's ({', '.join(others[:3])}): not deleted"
        )
    for name in os.listdir(path):
        (path / name).unlink()
    path.rmdir()


# --------------------------------------------------------------------------- writing


class Writer:
    """Writes a sweep's chunks into its folder: each chunk's rows, then the index that counts them.

    Args:
        path: The sweep's folder.
        per_chunk: The configurations per chunk.
        fingerprint: The sweep's fingerprint (:func:`jaxgd.sweeps.fingerprint.of`), kept in the index.
        meta: The result's counts and shapes (``meta_of``), kept in the index.
    """

    def __init__(self, path: Path, per_chunk: int, fingerprint: dict[str, str], meta: dict):
        self.path, self.per_chunk, self.fingerprint, self.meta = path, per_chunk, fingerprint, meta

    def start(self, result: SweepResult) -> None:
        """Write the head and an index with nothing completed (a fresh folder)."""
        step = result.runs_per_config
        arrays = {f"hp/{k}": v[::step] for k, v in result.hyperparams.items()}
        if result.curve_steps is not None:
            arrays["curve_steps"] = result.curve_steps
        atomic_savez(self.path / HEAD, arrays)
        self._index(0)

    def write(self, result: SweepResult, lo: int, hi: int) -> None:
        """Save configurations ``lo:hi`` of ``result`` (already stored there) and count them as completed."""
        rows = slice(lo * result.runs_per_config, hi * result.runs_per_config)
        arrays = {k: getattr(result, k)[rows] for k in SUMMARIES if getattr(result, k) is not None}
        if result.curve is not None:
            arrays["curve"] = result.curve[rows]
        if result.final_params is not None:
            arrays.update({f"params/{i}": leaf[rows] for i, (_, leaf) in enumerate(result.param_items())})
        atomic_savez(self.path / chunk_name(lo, hi), arrays)
        _sync_folder(self.path)  # the chunk's file is on disk before the index that counts it
        self._index(hi)

    def finish(self, result: SweepResult) -> None:
        """Replace the finished sweep's folder by one ``.npz`` (with the fingerprint and chunk size): written
        whole beside it, then the folder renamed aside, the file renamed in, the folder removed."""
        staging = self.path.with_name(f".{self.path.name}.whole.{os.getpid()}.tmp")
        save_whole(result, staging, fingerprint=self.fingerprint, configs_per_chunk=self.per_chunk)
        parts = parts_of(self.path)
        os.rename(self.path, parts)
        os.rename(staging, self.path)
        _sync_folder(self.path.parent)
        _remove_folder(parts)

    def _index(self, completed: int) -> None:
        index = {
            "format": FORMAT,
            "version": VERSION,
            "completed": completed,
            "configs_per_chunk": self.per_chunk,
            "fingerprint": self.fingerprint,
            "meta": self.meta,
        }
        files.write_text(self.path / INDEX, json.dumps(index, allow_nan=False, indent=1))


def meta_of(result: SweepResult) -> dict:
    """What the index records of a result's counts and shapes, to check its files against when read."""
    params = None
    if result.final_params is not None:
        params = [[k, list(np.shape(v)[1:]), np.asarray(v).dtype.str] for k, v in result.param_items()]
    floats = (result.final_loss, result.best_loss, result.final_grad_norm, result.curve)  # the runs' real dtype
    meta = {
        "steps": result.steps,
        "num_configs": result.num_configs,
        "num_problems": result.num_problems,
        "num_starts": result.num_starts,
        **({"num_seeds": result.num_seeds} if result.num_seeds > 1 else {}),
        "names": list(result.hyperparams),
        "summaries": list(result.summaries),
        "dtype": next((a.dtype.str for a in floats if a is not None), None),
        "params": params,
        "curve_points": None if result.curve_steps is None else len(result.curve_steps),
        "info": result.info,
    }
    return json.loads(json.dumps(meta, allow_nan=False))  # as read back: lists, not tuples


def _layout(meta: dict) -> dict:
    """The counts and shapes of ``meta``: what a resumed sweep's own must equal (its ``info`` may differ)."""
    return {k: v for k, v in meta.items() if k != "info"}


def open_out(
    path: str | os.PathLike, template: SweepResult, fingerprint: dict[str, str], per_chunk: int, chunk_given: bool
) -> tuple[SweepResult, Writer | None]:
    """``template`` with the rows this sweep saved at ``path`` before, and the writer of its chunks to come
    (None when ``path`` holds it finished). A new or unfinished sweep's folder is checked writable here,
    before anything compiles.

    A file or folder of another sweep (another fingerprint) is refused naming the parts that differ. A
    resume keeps the file's configurations per chunk, since results may differ at rounding level between
    chunk sizes: with ``chunk_given`` another chunk size is refused, without it the file's is adopted.

    Args:
        path: The sweep's ``out`` path.
        template: The sweep's result with no run done (``empty_result``).
        fingerprint: This sweep's fingerprint (:func:`jaxgd.sweeps.fingerprint.of`).
        per_chunk: The configurations per chunk this call would use.
        chunk_given: Whether the caller chose the chunk size.

    Returns:
        result: ``template`` with the saved rows copied in and ``completed`` set.
        writer: The :class:`Writer` of the chunks to come, or None for a finished sweep.

    Raises:
        SweepFileError: If ``path`` holds another sweep, an unusable file, or other files than a sweep's; or,
            with ``chunk_given``, a sweep of another chunk size.
        TypeError: If path is not a path.
        ValueError: If path is empty.
        OSError: If its folder cannot be written.
    """
    path = _out_path(path)
    _recover(path)
    if path.is_file():
        saved, meta = load_whole(path)
        if not isinstance(meta.get("fingerprint"), dict):
            raise file_error(path, "is a result without a sweep's fingerprint (one SweepResult.save wrote?)")
        if not saved.done:
            raise file_error(path, "is an unfinished result file, not the folder of an unfinished sweep")
        saved_chunk = meta.get("configs_per_chunk")
        _same_sweep(path, meta["fingerprint"], saved_chunk, saved, template, fingerprint, per_chunk, chunk_given)
        return _with_rows(template, saved), None
    _writable_folder(path)
    clean_stale_tmp(path)
    writer = Writer(path, per_chunk, fingerprint, meta_of(template))
    if not is_sweep_folder(path):
        names = os.listdir(path)
        others = sorted(n for n in names if not _ours(n))
        if others:
            raise SweepFileError(
                f"out={os.fspath(path)!r} is a folder of other files ({', '.join(others[:3])}), not a sweep's: "
                "give the sweep a folder of its own (a new or empty one, or one it wrote)"
            )
        for name in names:  # the files of a sweep killed before its first index: nothing counts them
            if name == HEAD or _CHUNK.fullmatch(name):
                (path / name).unlink()
        writer.start(template)
        return template, writer
    saved, index = read(path)
    writer.per_chunk = _same_sweep(
        path, index["fingerprint"], index["configs_per_chunk"], saved, template, fingerprint, per_chunk, chunk_given
    )
    return _with_rows(template, saved), writer


def _same_sweep(
    path: Path,
    saved_fingerprint: Any,
    saved_chunk: Any,
    saved: SweepResult,
    template: SweepResult,
    fingerprint: dict[str, str],
    per_chunk: int,
    chunk_given: bool,
) -> int:
    """The configurations per chunk to go on with, after checking that the saved sweep is this call's."""
    from jaxgd.sweeps import fingerprint as fp

    differ = fp.differences(saved_fingerprint, fingerprint)
    if differ:
        raise SweepFileError(
            f"sweep file {os.fspath(path)!r} holds a different sweep: it differs from this call in its "
            f"{', '.join(differ)}. Delete it or move it away (jaxgd.sweeps.delete removes a sweep's files), or "
            "choose another out path."
        )
    if _layout(meta_of(saved)) != _layout(meta_of(template)) or not isinstance(saved_chunk, int):
        raise file_error(path, "has counts and shapes that disagree with its fingerprint (edited by hand?)")
    if saved_chunk != per_chunk and chunk_given:
        runs = template.runs_per_config
        raise SweepFileError(
            f"sweep file {os.fspath(path)!r} was computed in chunks of {saved_chunk * runs} runs, this call asks "
            f"for chunks of {per_chunk * runs}: results may differ at rounding level between chunk sizes, so a "
            f"sweep resumes with its file's. Pass chunk_size=None (or {saved_chunk * runs}), or choose another "
            "out path."
        )
    return saved_chunk


def _recover(path: Path) -> None:
    """Complete or undo the finishing of a sweep killed between its two renames; remove its stale files."""
    parts = parts_of(path)
    if parts.is_dir():
        if path.exists():
            _remove_folder(parts)  # the file is in place: the folder was to be removed
        else:
            os.rename(parts, path)  # the file never came: the folder is the sweep
    if path.parent.is_dir():
        clean_stale_tmp(path.parent, path.name)


def _with_rows(template: SweepResult, saved: SweepResult) -> SweepResult:
    """``template`` with the first ``saved.completed`` configurations' rows copied from ``saved``."""
    copy_rows(template, saved, saved.completed * template.runs_per_config)
    return dataclasses.replace(template, completed=saved.completed)


def _out_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"out must be a path (str or os.PathLike), got {type(path).__name__}")
    if os.fspath(path) == "":
        raise ValueError("out is an empty path: give the path the sweep should be saved at, or out=None")
    return Path(path)


def _writable_folder(folder: Path) -> None:
    """``folder`` made if missing and checked to take new files: an early OSError naming it if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.{os.getpid()}.tmp"  # named as a temporary file, removed as one if left
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise type(err)(err.errno, f"out={os.fspath(folder)!r} cannot be written ({err.strerror})") from None


def clean_stale_tmp(folder: Path, name: str | None = None) -> None:
    """Remove temporary files in ``folder`` (of the file ``name`` only, if given) left by a process that
    is no longer running; under ``jax.distributed`` only those over an hour old (another host may be writing)."""
    for entry in os.listdir(folder):
        m = _TMP.fullmatch(entry)
        if not m or (name is not None and not entry.startswith(f".{name}.")):
            continue
        tmp = folder / entry
        with contextlib.suppress(OSError):
            if jax.process_count() > 1 and time.time() - tmp.stat().st_mtime < 3600:
                continue
            if not _alive(int(m.group(1))):
                tmp.unlink()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (True when that cannot be told)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def _sync_folder(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not on every platform (Windows)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- reading


def read(path: str | os.PathLike) -> tuple[SweepResult, dict]:
    """The result a sweep's folder holds (rows past ``completed`` NaN / -1) and its index, every file
    checked against the index's counts and shapes first: SweepFileError naming the folder if not.

    Args:
        path: A sweep's folder.

    Returns:
        result: The :class:`SweepResult`, ``completed`` as the index counts.
        index: The folder's ``index.json``, parsed.

    Raises:
        SweepFileError: If a file is missing, unreadable or disagrees with the index.
    """
    try:
        index = _read_index(Path(path))
        return _assemble(Path(path), index), index
    except SweepFileError:
        raise
    except Exception as err:
        from jaxgd.sweeps.result import _reason

        raise file_error(path, _reason(err)) from None


def _read_index(path: Path) -> dict:
    need((path / INDEX).is_file(), f"has no {INDEX} (not a sweep's folder, or one whose sweep never started)")
    try:
        index = json.loads((path / INDEX).read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        need(False, f"has an {INDEX} that is not JSON ({err})")
    need(isinstance(index, dict) and index.get("format") == FORMAT, f"has an {INDEX} of another format")
    need(index.get("version") == VERSION, f"is of format version {index.get('version')!r}, not {VERSION}")
    meta = index.get("meta")
    check_meta({**meta, "completed": index.get("completed")} if isinstance(meta, dict) else meta)
    per_chunk = index.get("configs_per_chunk")
    need(isinstance(per_chunk, int) and per_chunk >= 1, f"has configs_per_chunk={per_chunk!r}")
    done, total = index["completed"], meta["num_configs"]
    need(
        done == total or done % per_chunk == 0,
        f"counts {done} completed configurations, not whole chunks of {per_chunk}",
    )
    need(isinstance(index.get("fingerprint"), dict), "has no fingerprint")
    params = meta.get("params")
    need(params is None or (isinstance(params, list) and all(_param_entry(p) for p in params)), "has bad params")
    curve = meta.get("curve_points")
    need(curve is None or (isinstance(curve, int) and curve >= 1), f"has curve_points={curve!r}")
    need(isinstance(meta.get("dtype"), str) or meta.get("dtype", 0) is None, "has no dtype")
    return index


def _param_entry(p: Any) -> bool:
    return (
        isinstance(p, list)
        and len(p) == 3
        and isinstance(p[0], str)
        and isinstance(p[1], list)
        and all(isinstance(n, int) and n >= 0 for n in p[1])
        and isinstance(p[2], str)
    )


def _assemble(path: Path, index: dict) -> SweepResult:
    """The folder's result: its head's columns, then each counted chunk's rows, each file checked."""
    meta = index["meta"]
    seeds = meta.get("num_seeds", 1)
    need(isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1, f"has num_seeds={seeds!r}")
    C, rpc = meta["num_configs"], meta["num_problems"] * meta["num_starts"] * seeds
    head = _load_npz(path / HEAD)
    columns = {}
    for name in meta["names"]:
        col = head.get(f"hp/{name}")
        need(col is not None and col.shape == (C,), f"has no column of {C} values for {name!r} in {HEAD}")
        columns[name] = col
    curve_steps = head.get("curve_steps")
    K = meta["curve_points"]
    need((K is None) == (curve_steps is None) and (K is None or curve_steps.shape == (K,)), "has bad curve steps")
    P, S, real = meta["num_problems"], meta["num_starts"], np.dtype(meta["dtype"] or np.float32)
    result = empty_result(
        columns, P, S, meta["steps"], real, None, curve_steps, meta["info"], seeds, summaries_of(meta)
    )
    params, keys = None, None
    if meta["params"] is not None:  # as SweepResult.load gives them: one array, or a dict by path in saved order
        leaves = {k: np.full((C * rpc, *shape), np.nan, np.dtype(dt)) for k, shape, dt in meta["params"]}
        params, keys = (leaves[""] if list(leaves) == [""] else leaves), tuple(leaves)
    result = dataclasses.replace(result, final_params=params, completed=index["completed"], params_keys=keys)
    for lo in range(0, index["completed"], index["configs_per_chunk"]):
        hi = min(lo + index["configs_per_chunk"], C)
        _read_chunk(path / chunk_name(lo, hi), result, slice(lo * rpc, hi * rpc))
    check_rows(result)
    return result


def _read_chunk(file: Path, result: SweepResult, rows: slice) -> None:
    """Copy one chunk's file into ``result``'s ``rows``, each array checked for its shape and dtype first."""
    z = _load_npz(file)
    n = rows.stop - rows.start
    expected = {k: (a, (n, *a.shape[1:])) for k in SUMMARIES if (a := getattr(result, k)) is not None}
    if result.curve is not None:
        expected["curve"] = (result.curve, (n, result.curve.shape[1]))
    for i, (_, leaf) in enumerate(result.param_items()):
        expected[f"params/{i}"] = (leaf, (n, *leaf.shape[1:]))
    for name, (dst, shape) in expected.items():
        a = z.get(name)
        need(a is not None, f"lacks {name} in {file.name}")
        need(
            a.shape == shape and a.dtype == dst.dtype,
            f"has {name} of {a.dtype}{list(a.shape)} in {file.name}, not {dst.dtype}{list(shape)}",
        )
        dst[rows] = a


def _load_npz(file: Path) -> dict[str, np.ndarray]:
    need(file.is_file(), f"lacks {file.name}")
    return read_npz(file, f"has {file.name} that is")
