"""Parsing a file under a memory and a time budget: :func:`layers.readers.read_features` runs
in a child process (``forkserver``: forked from a small server that imported the readers once)
whose address space is capped with ``RLIMIT_AS`` and whose time is capped by a timeout; the
features come back pickled through a temporary file. A parse over budget is refused with
:class:`layers.uploads.UploadTooLarge` naming the budget; the caller's memory is untouched and
the child's is given back when it exits.

The archive and GeoPackage checks of :mod:`layers.uploads` run first in the caller, so a bomb
is refused from its directory without starting a child at all.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import pickle
import resource
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd

from layers.errors import GazarError, InputFileError, ValidationFailed
from layers.labels import message
from layers.readers import SourceInfo, check_readable, read_features
from layers.uploads import (
    ReadersBusy,
    ReadLimits,
    archive_members,
    geopackage_layers,
    over_budget,
    refuse,
)

_PRELOAD = ["layers.readers"]
#: the parse slots of this process, by their number
_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def read_bounded(
    file: str | Path,
    *,
    limits: ReadLimits,
    crs: str | None = None,
    source_layer: str | None = None,
) -> tuple[gpd.GeoDataFrame, SourceInfo]:
    """:func:`layers.readers.read_features` under ``limits``, in a child process when a memory
    or time budget is set.

    Raises
    ------
    layers.uploads.UploadTooLarge
        Over a cap or a budget, naming it and its ``GAZAR_*`` setting.
    layers.uploads.ReadersBusy
        When every parse slot stayed taken for the time budget.
    layers.errors.InputFileError, layers.errors.ValidationFailed
        As :func:`read_features` raises them.
    """
    path = Path(file)
    check_readable(path)  # an empty file says so before any archive or GeoPackage check
    _preflight(path, limits, source_layer)
    if limits.memory_bytes is None and limits.seconds is None:
        return read_features(path, crs=crs, source_layer=source_layer, limits=limits)
    with _slot(path, limits):
        return _in_child(path, limits, crs, source_layer)


@contextlib.contextmanager
def _slot(path: Path, limits: ReadLimits) -> Iterator[None]:
    """One of the process's ``limits.parallel`` parse slots, waited for up to the time budget."""
    if limits.parallel is None:
        yield
        return
    with _SLOTS_LOCK:
        slots = _SLOTS.setdefault(limits.parallel, threading.BoundedSemaphore(limits.parallel))
    if not slots.acquire(timeout=limits.seconds):
        raise ReadersBusy(message("upload_message", "busy", "en", limit=limits.parallel))
    try:
        yield
    finally:
        slots.release()


def _in_child(
    path: Path, limits: ReadLimits, crs: str | None, source_layer: str | None
) -> tuple[gpd.GeoDataFrame, SourceInfo]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    with tempfile.TemporaryDirectory(prefix="gazar-parse-") as folder:
        out = Path(folder) / "result.pickle"
        child = ctx.Process(
            target=_child,
            args=(str(path), crs, source_layer, limits, str(out)),
            name="gazar-parse",
            daemon=True,
        )
        child.start()
        child.join(limits.seconds)
        if child.is_alive():
            child.kill()
            child.join()
            raise over_budget(str(path), "time", limits)
        if child.exitcode != 0 or not out.exists():
            raise _died(path, limits, child.exitcode)
        kind, payload, peak = pickle.loads(out.read_bytes())
    if kind == "ok":
        frame, info = payload
        info.peak_bytes = peak
        return frame, info
    error = _rebuilt(kind, payload, path, limits)
    error.peak_bytes = peak  # type: ignore[attr-defined]
    raise error


def _preflight(path: Path, limits: ReadLimits, source_layer: str | None) -> None:
    """The directory checks, in the caller: a bomb is refused without a child."""
    if not path.is_file():
        return  # read_features names the problem
    suffix = path.suffix.lower()
    if suffix in (".zip", ".kmz"):
        archive_members(path, limits, file=str(path))
    elif suffix == ".gpkg":
        geopackage_layers(path, limits, file=str(path), source_layer=source_layer)


def _child(
    file: str, crs: str | None, source_layer: str | None, limits: ReadLimits, out: str
) -> None:
    """The parse in the child process: budgets set, the result or the error pickled."""
    if limits.memory_bytes is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = vm_bytes("VmSize") + limits.memory_bytes
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    if limits.seconds is not None:
        seconds = math.ceil(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    result: tuple[str, Any]
    try:
        frame, info = read_features(file, crs=crs, source_layer=source_layer, limits=limits)
        result = ("ok", (frame, info))
    except MemoryError:
        result = ("memory", None)
    except ValidationFailed as exc:
        result = ("validation", (exc.problems, exc.truncated, exc.warnings))
    except InputFileError as exc:
        memory = limits.memory_bytes is not None and _sounds_like_memory(exc.reason)
        result = ("memory", None) if memory else ("input", (exc.file, exc.reason))
    except GazarError as exc:
        result = ("gazar", str(exc))
    try:
        data = pickle.dumps((*result, vm_bytes("VmHWM")))
    except MemoryError:
        data = pickle.dumps(("memory", None, vm_bytes("VmHWM")))
    Path(out).write_bytes(data)


def vm_bytes(field: str, status: str = "/proc/self/status") -> int:
    """A ``Vm*`` line of ``/proc/<pid>/status`` in bytes (``VmRSS``, ``VmHWM``, ``VmSize``)."""
    for line in Path(status).read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def _sounds_like_memory(reason: str) -> bool:
    text = reason.lower()
    return "memory" in text or "alloc" in text


def _rebuilt(kind: str, payload: Any, path: Path, limits: ReadLimits) -> GazarError:
    if kind == "memory":
        return over_budget(str(path), "memory", limits)
    if kind == "validation":
        problems, truncated, warnings = payload
        return ValidationFailed(problems, truncated=truncated, warnings=warnings)
    if kind == "input":
        return InputFileError(*payload)
    return GazarError(str(payload))


def _died(path: Path, limits: ReadLimits, code: int | None) -> InputFileError:
    """A child that exited without a result: killed over its CPU time, or out of memory in
    native code (``std::bad_alloc`` aborts, an allocation fails with SIGSEGV)."""
    if code == -signal.SIGXCPU and limits.seconds is not None:
        return over_budget(str(path), "time", limits)
    killed = (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL, -signal.SIGBUS)
    if code in killed and limits.memory_bytes is not None:
        return over_budget(str(path), "memory", limits)
    return refuse(str(path), "parse_failed", size=str(code))
