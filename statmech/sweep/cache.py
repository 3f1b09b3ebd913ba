"""The point cache: one parquet file per finished point, committed by a manifest.

A point's key is the sha256 of the canonical JSON of its computation's name, its full
configuration, the toolkit's version and the hash of the computation's source
(:attr:`statmech.sweep.registry.Computation.source_hash`: its module and the computational
code it can call). Entries live in
``<root>/<computation>/<key>.parquet`` with ``<key>.json`` beside it: the manifest (config,
version, source hash, the parquet file's sha256, rows, seconds). Both are written to temporary
files and renamed into place, the manifest last, so an entry is either complete or absent
(a point killed mid-write leaves at most a stray temporary file). On reading, an unparsable
manifest (or one for another key), a missing data file or a checksum mismatch marks the entry
corrupt: it is deleted and the point recomputed. Any other failure while reading (an I/O
error, ``MemoryError``, an unreadable parquet file whose checksum matches) propagates and
deletes nothing: it says nothing about the entry.

Temporary files are named ``.<file>~<host>~<pid>~<random>.tmp`` (the writer's host name and
process id). :meth:`Cache.clean` removes a temporary file only when its writer is known dead
(same host, no such process) or when it was last modified more than :data:`TEMP_MAX_AGE`
seconds ago, so cleaning while a sweep runs leaves that sweep's in-flight writes alone.

Why parquet: the results are long tables, which parquet stores column-compressed, typed and
language-neutral (pandas, R, Julia, DuckDB read it); one file per point is the natural output of
distributed workers. It needs ``pyarrow`` (a core dependency, ~40 MB, the reference
implementation of Arrow/Parquet, already what pandas uses). CSV is exported beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from .._validation import InstanceOf, InvalidParameterError, Real, check
from ..paths import default_cache_dir

__all__ = ["Cache", "point_key", "point_seed", "canonical", "DEFAULT_CACHE", "TEMP_MAX_AGE",
           "check_cache_root"]

#: Default cache directory (override with the ``STATMECH_CACHE`` environment variable).
#: The cache directory when neither ``$STATMECH_CACHE`` nor ``$STATMECH_OUTPUT`` is set; the
#: default is resolved when a :class:`Cache` is made (:func:`statmech.paths.default_cache_dir`).
DEFAULT_CACHE = Path("statmech-output/cache")

#: Seconds after its last modification when :meth:`Cache.clean` removes a temporary file (or
#: a data file without manifest) whatever its writer: writing one point takes seconds, so an
#: hour-old one is abandoned (its writer on another host, or its pid reused).
TEMP_MAX_AGE = 3600.0

_SEP = "~"  # in temporary names; never in a host name, a key or mkstemp's random part


class CorruptEntry(Exception):
    """A cache entry whose manifest or checksum is wrong (internal: the entry is deleted)."""


def check_cache_root(root: object, name: str, func: str) -> Path:
    """``root`` as a Path, or :class:`InvalidParameterError` unless it is a path (str or
    os.PathLike) that is a directory or does not exist yet."""
    check(root, name, func, [InstanceOf((str, os.PathLike), "a directory path")])
    path = Path(root)  # type: ignore[arg-type]
    if path.exists() and not path.is_dir():
        raise InvalidParameterError.build(func, name, "a directory path", str(path),
                                          "It is a file.")
    return path


def _norm(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _norm(v) for k, v in sorted(x.items())}
    if isinstance(x, list | tuple):
        return [_norm(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):  # NumPy scalars
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    return x


def canonical(obj: Any) -> str:
    """Canonical JSON (sorted keys, NumPy scalars as Python numbers)."""
    return json.dumps(_norm(obj), sort_keys=True, separators=(",", ":"))


def point_key(computation: str, config: dict, version: str, source_hash: str) -> str:
    """The sha256 key of one point (module docstring)."""
    return hashlib.sha256(canonical({"computation": computation, "config": config,
                                     "version": version, "source": source_hash}).encode()
                          ).hexdigest()


def point_seed(computation: str, config: dict) -> int:
    """The point's random seed: the first 60 bits of the sha256 of its computation and
    configuration (``replicate`` included) only — independent of worker and order, and of the
    package version and source, so a code change recomputes a point (its cache key changes)
    with the same random numbers."""
    digest = hashlib.sha256(canonical({"computation": computation, "config": config}).encode())
    return int(digest.hexdigest()[:15], 16)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _host() -> str:
    return socket.gethostname().replace(_SEP, "-") or "localhost"


def _atomic_write(path: Path, write) -> None:
    prefix = f".{path.name}{_SEP}{_host()}{_SEP}{os.getpid()}{_SEP}"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:  # pragma: no cover - e.g. an invalid pid
        return False
    return True


def _abandoned(tmp: Path, max_age: float, now: float) -> bool:
    """Whether a temporary file's writer is gone: same host and its pid is not running, or the
    file is older than ``max_age`` seconds (module docstring)."""
    try:
        age = now - tmp.stat().st_mtime
    except FileNotFoundError:  # renamed into place meanwhile
        return False
    if age > max_age:
        return True
    parts = tmp.name[1:].split(_SEP)
    if len(parts) == 4 and parts[1] == _host() and parts[2].isdigit():
        return not _pid_alive(int(parts[2]))
    return False  # an older name without a pid, or another host's: by age only


class Cache:
    """A directory of finished points (module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = check_cache_root(default_cache_dir() if root is None else root, "root", "Cache")

    def _paths(self, computation: str, key: str) -> tuple[Path, Path]:
        d = self.root / computation
        return d / f"{key}.parquet", d / f"{key}.json"

    def get(self, computation: str, key: str) -> Any:
        """The cached table of a point, or None (absent, or corrupt: then removed).

        Only a wrong manifest or checksum (or a data file missing beside its manifest) marks
        an entry corrupt; any other error (I/O, memory, the parquet reader) propagates and
        leaves the entry in place.
        """
        import pandas as pd

        data, manifest = self._paths(computation, key)
        try:
            self._verify(key, data, manifest)
        except FileNotFoundError:  # absent, or its write was interrupted (or is in progress
            return None            # elsewhere): the data file is overwritten when recomputed
        except CorruptEntry:
            self.remove(computation, key)
            return None
        return pd.read_parquet(data)

    @staticmethod
    def _verify(key: str, data: Path, manifest: Path) -> None:
        """Raise FileNotFoundError (no manifest), CorruptEntry (wrong manifest, data missing,
        checksum mismatch) or let any other error through."""
        text = manifest.read_text()  # FileNotFoundError: absent
        try:
            meta = json.loads(text)
        except json.JSONDecodeError:
            raise CorruptEntry("manifest is not JSON") from None
        if not isinstance(meta, dict) or meta.get("key") != key or not isinstance(
                meta.get("sha256"), str):
            raise CorruptEntry("manifest of another entry")
        try:
            digest = _sha256_file(data)
        except FileNotFoundError:
            raise CorruptEntry("data file missing") from None
        if digest != meta["sha256"]:
            raise CorruptEntry("checksum")

    def put(self, computation: str, key: str, table: Any, config: dict, version: str,
            source_hash: str, seconds: float) -> None:
        """Store a point's table atomically (data first, manifest last)."""
        data, manifest = self._paths(computation, key)
        data.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(data, lambda tmp: table.to_parquet(tmp, index=False))
        meta = {"key": key, "computation": computation, "config": _norm(config),
                "version": version, "source_hash": source_hash,
                "sha256": _sha256_file(data), "rows": int(len(table)),
                "seconds": round(float(seconds), 3), "created": time.time()}
        _atomic_write(manifest, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1)))

    def remove(self, computation: str, key: str) -> None:
        """Delete one entry."""
        for p in self._paths(computation, key):
            p.unlink(missing_ok=True)

    def entries(self) -> Any:
        """A table of the cached points: computation, key, rows, seconds, version, created,
        config (JSON)."""
        import pandas as pd

        rows = []
        if self.root.exists():
            for manifest in sorted(self.root.glob("*/*.json")):
                try:
                    meta = json.loads(manifest.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                rows.append({"computation": meta.get("computation"), "key": meta.get("key"),
                             "rows": meta.get("rows"), "seconds": meta.get("seconds"),
                             "version": meta.get("version"), "created": meta.get("created"),
                             "config": canonical(meta.get("config", {}))})
        return pd.DataFrame(rows, columns=["computation", "key", "rows", "seconds", "version",
                                           "created", "config"])

    def clean(self, computation: str | None = None, older_than_version: str | None = None,
              *, temp_max_age: float = TEMP_MAX_AGE) -> int:
        """Delete entries (all, or one computation's; or those written by another version than
        ``older_than_version``) and abandoned temporary files; returns the number of entries
        removed.

        A temporary file (or a data file without its manifest) is abandoned when its writer
        is known dead or it is older than ``temp_max_age`` seconds (module docstring): the
        in-flight writes of a sweep running meanwhile are kept.
        """
        check(temp_max_age, "temp_max_age", "Cache.clean", [Real(0.0)])
        n = 0
        if not self.root.exists():
            return 0
        now = time.time()
        for tmp in self.root.glob("*/.*.tmp"):
            if _abandoned(tmp, temp_max_age, now):
                tmp.unlink(missing_ok=True)
        for manifest in list(self.root.glob("*/*.json")):
            comp = manifest.parent.name
            if computation is not None and comp != computation:
                continue
            if older_than_version is not None:
                try:
                    if json.loads(manifest.read_text()).get("version") == older_than_version:
                        continue
                except (OSError, json.JSONDecodeError, AttributeError):
                    pass
            self.remove(comp, manifest.stem)
            n += 1
        for data in list(self.root.glob("*/*.parquet")):  # orphans, unless being committed
            if not data.with_suffix(".json").exists() and (
                    computation is None or data.parent.name == computation):
                try:
                    old = now - data.stat().st_mtime > temp_max_age
                except FileNotFoundError:
                    continue
                if old:
                    data.unlink(missing_ok=True)
        return n
