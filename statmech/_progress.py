"""A minimal progress bar for long runs, silent unless stderr is a terminal.

(tqdm would do; the toolkit's needs are one bar with a rate and an ETA, so it keeps its own.)
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ._validation import InvalidParameterError


class ProgressBar:
    """``with ProgressBar(total, "simulate", unit="SGD steps") as bar: bar.update(n)``.

    Every bar says what it counts: ``label [####....]  40.0% 400/1000 SGD steps, ...``.

    Parameters
    ----------
    total : int
        Units of work (e.g. SGD steps).
    label : str
        Text before the bar: what is being done. Must not be empty.
    unit : str
        What one unit of work is (shown after the count, e.g. ``"SGD steps"``); optional.
    enabled : bool or None
        ``None`` (default) shows the bar only when ``stream`` is a terminal.
    stream : file, optional
        Default ``sys.stderr``.
    min_interval : float
        Seconds between redraws.
    """

    def __init__(self, total: int, label: str, enabled: bool | None = None,
                 stream: TextIO | None = None, min_interval: float = 0.2, *,
                 unit: str = "") -> None:
        if not isinstance(label, str) or not label.strip():
            raise InvalidParameterError.build("ProgressBar", "label",
                                              "a non-empty str saying what is counted", label)
        self.total = max(int(total), 1)
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.done = 0
        self.min_interval = min_interval
        self._start = time.perf_counter()
        self._last = 0.0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int) -> None:
        """Record ``n`` more units done and redraw if enough time has passed."""
        self.done += int(n)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= self.min_interval or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(self.done / self.total, 1.0)
        width = 30
        fill = int(round(width * frac))
        elapsed = now - self._start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        self.stream.write(
            f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] {100 * frac:5.1f}% "
            f"{min(self.done, self.total)}/{self.total}{' ' + self.unit if self.unit else ''}, "
            f"{elapsed:6.1f}s elapsed, ~{eta:6.1f}s left"
        )
        self.stream.flush()

    def close(self) -> None:
        """Finish the line (if anything was drawn)."""
        if self.enabled and self._last > 0:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
