"""The point cache: one parquet file per finished point, committed by a manifest.

A point's key is the sha256 of the canonical JSON of its computation's name, its full
configuration, the toolkit's version and the hash of the computation's source
(:attr:`statmech.sweep.registry.Computation.source_hash`: its module and the computational
code it can call). Entries live in
``<root>/<computation>/<key>.parquet`` with ``<key>.json`` beside it: the manifest (config,
version, source hash, the parquet file's sha256, rows, seconds). Both are written to temporary
files and renamed into place, the manifest last, so an entry is either complete or absent
(a point killed mid-write leaves at most a stray temporary file). On reading, a missing or
unparsable manifest, a missing data file or a checksum mismatch marks the entry corrupt: it is
deleted and the point recomputed.

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
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Cache", "point_key", "seed_from_key", "canonical", "DEFAULT_CACHE"]

#: Default cache directory (override with the ``STATMECH_CACHE`` environment variable).
DEFAULT_CACHE = Path(os.environ.get("STATMECH_CACHE", ".statmech-cache"))


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


def seed_from_key(key: str) -> int:
    """The point's seed: the first 60 bits of its key (independent of worker and order)."""
    return int(key[:15], 16)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Cache:
    """A directory of finished points (module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(DEFAULT_CACHE if root is None else root)

    def _paths(self, computation: str, key: str) -> tuple[Path, Path]:
        d = self.root / computation
        return d / f"{key}.parquet", d / f"{key}.json"

    def get(self, computation: str, key: str) -> Any:
        """The cached table of a point, or None (absent or corrupt; corrupt entries are
        removed)."""
        import pandas as pd

        data, manifest = self._paths(computation, key)
        if not manifest.exists():  # absent, or its write was interrupted (or is in progress
            return None            # elsewhere): the data file is overwritten when recomputed
        try:
            meta = json.loads(manifest.read_text())
            if meta.get("key") != key or _sha256_file(data) != meta["sha256"]:
                raise ValueError("checksum")
            return pd.read_parquet(data)
        except Exception:  # any unreadable entry counts as corrupt
            self.remove(computation, key)
            return None

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

    def clean(self, computation: str | None = None, older_than_version: str | None = None
              ) -> int:
        """Delete entries (all, or one computation's; or those written by another version than
        ``older_than_version``) and stray temporary files; returns the number removed."""
        n = 0
        if not self.root.exists():
            return 0
        for tmp in self.root.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)
        for manifest in list(self.root.glob("*/*.json")):
            comp = manifest.parent.name
            if computation is not None and comp != computation:
                continue
            if older_than_version is not None:
                try:
                    if json.loads(manifest.read_text()).get("version") == older_than_version:
                        continue
                except (OSError, json.JSONDecodeError):
                    pass
            self.remove(comp, manifest.stem)
            n += 1
        for data in list(self.root.glob("*/*.parquet")):  # orphans
            if not data.with_suffix(".json").exists() and (
                    computation is None or data.parent.name == computation):
                data.unlink(missing_ok=True)
        return n
