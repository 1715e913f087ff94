"""The backend registry: board drivers found by name, the way python-can finds its interfaces.

Three sources, in order of precedence:

1. backends registered at run time with :func:`register_backend` (tests, embedding applications);
2. entry points in the group ``ctid.drivers`` of any installed distribution: a third-party driver package
   declares, in its ``setup.py`` / ``pyproject.toml``::

       [project.entry-points."ctid.drivers"]
       synway = "ctid_synway.driver:SynwayBackend"

   (ctid itself declares ``hwsim = ctid.drivers.hwsim:HwsimBackend`` in its setup.py);
3. the built-in table :data:`BUILTIN_BACKENDS` (so a source checkout finds hwsim before it is installed).

A backend is an object (or a class, instantiated once with no arguments) with
``open_board(board_id, **cfg) -> ctid.drivers.Board`` and optionally ``describe() -> str``.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any

from .model import Board, DriverError

ENTRY_POINT_GROUP = "ctid.drivers"
BUILTIN_BACKENDS: dict[str, str] = {"hwsim": "ctid.drivers.hwsim:HwsimBackend"}

_lock = threading.RLock()
_registered: dict[str, Any] = {}       # name -> object or "module:attr"
_loaded: dict[str, Any] = {}           # name -> backend instance
_ep_cache: dict[str, importlib.metadata.EntryPoint] | None = None


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    global _ep_cache
    with _lock:
        if _ep_cache is None:
            eps: dict[str, importlib.metadata.EntryPoint] = {}
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                eps.setdefault(ep.name, ep)   # the first on sys.path wins, as for imports
            _ep_cache = eps
        return dict(_ep_cache)


def refresh() -> None:
    """Forget cached entry points and loaded backends (after installing a driver package at run time)."""
    global _ep_cache
    with _lock:
        _ep_cache = None
        _loaded.clear()
        importlib.invalidate_caches()


def register_backend(name: str, backend: Any) -> None:
    """Register a backend object, class, or ``"module:attr"`` string under ``name`` (overrides others)."""
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise DriverError(f"backend name {name!r}: use letters, digits, '-' and '_'")
    with _lock:
        _registered[name] = backend
        _loaded.pop(name, None)


def unregister_backend(name: str) -> None:
    with _lock:
        _registered.pop(name, None)
        _loaded.pop(name, None)


def available_backends() -> list[str]:
    """Every backend name known (registered, entry points, built-in), sorted."""
    return sorted(set(_registered) | set(_entry_points()) | set(BUILTIN_BACKENDS))


def backend_origin(name: str) -> str:
    """Where ``name`` comes from: ``"registered"``, ``"entry point <value> (<distribution>)"``, ``"built-in"``."""
    if name in _registered:
        return "registered"
    ep = _entry_points().get(name)
    if ep is not None:
        dist = getattr(ep, "dist", None)
        return f"entry point {ep.value} ({dist.name if dist is not None else '?'})"
    if name in BUILTIN_BACKENDS:
        return "built-in"
    raise _unknown(name)


def _unknown(name: str) -> DriverError:
    known = ", ".join(available_backends()) or "none"
    return DriverError(f"unknown driver backend {name!r}; available: {known} (third-party drivers register an "
                       f"entry point in the group {ENTRY_POINT_GROUP!r})")


def _load_ref(ref: str, what: str) -> Any:
    mod, _, attr = ref.partition(":")
    try:
        obj = importlib.import_module(mod)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except Exception as exc:  # noqa: BLE001 - any import failure of a driver is reported the same way
        raise DriverError(f"driver backend {what}: cannot load {ref}: {type(exc).__name__}: {exc}") from exc
    return obj


def get_backend(name: str) -> Any:
    """The backend instance for ``name`` (loaded once)."""
    if not isinstance(name, str):
        raise DriverError(f"backend name must be a string, not {type(name).__name__}")
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _registered:
            obj = _registered[name]
            if isinstance(obj, str):
                obj = _load_ref(obj, repr(name))
        else:
            ep = _entry_points().get(name)
            if ep is not None:
                try:
                    obj = ep.load()
                except Exception as exc:  # noqa: BLE001
                    raise DriverError(f"driver backend {name!r}: entry point {ep.value} failed to load: "
                                      f"{type(exc).__name__}: {exc}") from exc
            elif name in BUILTIN_BACKENDS:
                obj = _load_ref(BUILTIN_BACKENDS[name], repr(name))
            else:
                raise _unknown(name)
        if isinstance(obj, type):
            obj = obj()
        if not callable(getattr(obj, "open_board", None)):
            raise DriverError(f"driver backend {name!r} ({type(obj).__name__}) has no open_board(board_id, **cfg)")
        _loaded[name] = obj
        return obj


def open_board(backend: str, board_id: int, **cfg) -> Board:
    """Open board ``board_id`` of the named backend: ``open_board("hwsim", 0, world=w)``."""
    board = get_backend(backend).open_board(board_id, **cfg)
    if not isinstance(board, Board):
        raise DriverError(f"driver backend {backend!r} returned {type(board).__name__}, not a ctid.drivers.Board")
    return board
