"""Progress reporting: a bar on a terminal, plain lines in logs, and progress inside sweep points.

Decisions (documented here, used by every long run of the toolkit):

* **Terminal** (stderr is a TTY, or ``enabled=True``): a one-line bar with a count, a rate and
  an ETA; when ``tqdm`` is installed and the stream is ``sys.stderr``, ``tqdm.auto`` draws it
  instead (so a Jupyter notebook gets a widget: in a notebook, where stderr is not a TTY, the
  tqdm widget is used whenever tqdm is installed). tqdm is optional; without it the built-in
  bar is used.
* **Not a terminal** (CI logs, ``| tee``, ``nohup``): silent, unless plain lines are asked for,
  either per bar (``plain_every=seconds``) or for everything run inside
  :func:`plain_progress_lines` (the command-line tools do this): then one plain line at most
  every so many seconds and a last line when the bar closes.
* **Inside a sweep point** computed by a worker process, bars do not draw; every bar's
  progress goes to the reporter installed with :func:`point_reporter`, which the sweep sends
  to the main process, whose gallery/sweep bar then moves *during* long points.

The settings are context variables (:mod:`contextvars`), not module globals, so threads do
not share them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from ._validation import InvalidParameterError

__all__ = ["ProgressBar", "plain_progress_lines", "point_reporter", "PLAIN_EVERY"]

#: Seconds between plain progress lines written by the command-line tools when stderr is not
#: a terminal.
PLAIN_EVERY = 15.0

_PLAIN_EVERY: ContextVar[float | None] = ContextVar("statmech_plain_every", default=None)
_REPORTER: ContextVar[Callable[[str, float], None] | None] = ContextVar(
    "statmech_point_reporter", default=None)


@contextmanager
def plain_progress_lines(every: float | None = PLAIN_EVERY) -> Iterator[None]:
    """Inside this block, bars on a non-terminal stream write a plain line at most every
    ``every`` seconds (``None``: stay silent)."""
    token = _PLAIN_EVERY.set(every)
    try:
        yield
    finally:
        _PLAIN_EVERY.reset(token)


@contextmanager
def point_reporter(report: Callable[[str, float], None] | None) -> Iterator[None]:
    """Inside this block every bar calls ``report(label, fraction_done)`` as it moves (and
    draws nothing unless ``enabled=True``): how a sweep point reports its progress."""
    token = _REPORTER.set(report)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class ProgressBar:
    """``with ProgressBar(total, "simulate", unit="SGD steps") as bar: bar.update(n)``.

    Every bar says what it counts: ``label [####....]  40.0% 400/1000 SGD steps, ...``.
    Where it draws is decided as in the module docstring.

    Parameters
    ----------
    total : int
        Units of work (e.g. SGD steps).
    label : str
        Text before the bar: what is being done. Must not be empty.
    enabled : bool or None
        ``None`` (default): draw on a terminal (or a notebook with tqdm), plain lines
        elsewhere when asked for, silent otherwise; ``True``: always draw; ``False``: never
        draw (a sweep point's reporter still hears of it).
    stream : file, optional
        Default ``sys.stderr``.
    min_interval : float
        Seconds between redraws.
    unit : str
        What one unit of work is (shown after the count, e.g. ``"SGD steps"``); optional.
    plain_every : float, optional
        Seconds between plain lines when not drawing a bar (default: the enclosing
        :func:`plain_progress_lines`, else none).
    """

    def __init__(self, total: int, label: str, enabled: bool | None = None,
                 stream: TextIO | None = None, min_interval: float = 0.2, *,
                 unit: str = "", plain_every: float | None = None) -> None:
        if not isinstance(label, str) or not label.strip():
            raise InvalidParameterError.build("ProgressBar", "label",
                                              "a non-empty str saying what is counted", label)
        self.total = max(int(total), 1)
        self.label = label
        self.unit = unit
        self.postfix = ""
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.done: float = 0
        self._reporter = _REPORTER.get()
        self._tqdm = None
        self._plain_every = None
        default_stream = stream is None or stream is sys.stderr
        if enabled is None and self._reporter is not None:
            enabled = False  # inside a sweep point: the reporter carries the progress
        if enabled is None:
            tqdm = _tqdm() if default_stream else None
            if _isatty(self.stream) or (tqdm is not None and _in_notebook()):
                enabled = True
            else:
                every = plain_every if plain_every is not None else _PLAIN_EVERY.get()
                if every is not None:
                    self._plain_every = float(every)
                enabled = False
        if enabled and default_stream:
            tqdm = _tqdm()
            if tqdm is not None:
                self._tqdm = tqdm(total=self.total, desc=label, unit=f" {unit}" if unit else "it",
                                  mininterval=min_interval, leave=True)
        self.enabled = bool(enabled)
        self._start = time.perf_counter()
        self._last = 0.0
        self._last_report = 0.0
        self._last_plain = self._start
        self._width = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float) -> None:
        """Record ``n`` more units done and redraw if enough time has passed."""
        self.set_done(self.done + n)

    def set_done(self, done: float, postfix: str | None = None) -> None:
        """Set the units done so far (may be fractional) and, optionally, a short text shown
        after the bar (e.g. which points are running)."""
        self.done = done
        if postfix is not None:
            self.postfix = postfix
        now = time.perf_counter()
        if self._reporter is not None and (now - self._last_report >= 0.5
                                           or self.done >= self.total):
            self._last_report = now
            self._reporter(self.label, min(self.done / self.total, 1.0))
        if self._tqdm is not None:
            self._tqdm.n = min(done, self.total)
            if postfix is not None:
                self._tqdm.set_postfix_str(postfix, refresh=False)
            if now - self._last >= self.min_interval:
                self._last = now
                self._tqdm.refresh()
            return
        if self.enabled:
            if now - self._last >= self.min_interval or self.done >= self.total:
                self._last = now
                self._draw(now)
        elif self._plain_every is not None and now - self._last_plain >= self._plain_every:
            self._last_plain = now
            self._plain(now)

    def write(self, what: str | Callable[[], None]) -> None:
        """Print a line (or run ``what()``, which prints) without breaking the bar: the bar's
        line is cleared first and redrawn after."""
        if self._tqdm is not None:
            with self._tqdm.external_write_mode():
                what() if callable(what) else self.stream.write(what + "\n")
            return
        drawn = self.enabled and self._last > 0
        if drawn:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        if callable(what):
            what()
        else:
            self.stream.write(what + "\n")
            self.stream.flush()
        if drawn:
            self._draw(time.perf_counter())

    def _counts(self, now: float) -> tuple[float, str, str]:
        frac = min(self.done / self.total, 1.0)
        elapsed = now - self._start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        done = min(self.done, self.total)
        shown = f"{done:.0f}" if float(done).is_integer() else f"{done:.1f}"
        count = f"{shown}/{self.total}{' ' + self.unit if self.unit else ''}"
        return frac, count, f"{elapsed:6.1f}s elapsed, ~{eta:6.1f}s left"

    def _draw(self, now: float) -> None:
        frac, count, times = self._counts(now)
        width = 30
        fill = int(round(width * frac))
        post = f" | {self.postfix}" if self.postfix else ""
        line = (f"{self.label} [{'#' * fill}{'.' * (width - fill)}] {100 * frac:5.1f}% "
                f"{count}, {times}{post}")
        pad = " " * max(self._width - len(line), 0)  # erase a longer previous line
        self._width = len(line)
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()

    def _plain(self, now: float) -> None:
        frac, count, times = self._counts(now)
        post = f" | {self.postfix}" if self.postfix else ""
        self.stream.write(f"{self.label}: {100 * frac:.0f}% ({count}), "
                          f"{' '.join(times.split())}{post}\n")
        self.stream.flush()

    def close(self) -> None:
        """Finish the line (if anything was drawn)."""
        if self._tqdm is not None:
            self._tqdm.n = min(self.done, self.total)
            self._tqdm.close()
            self._tqdm = None
            return
        if self.enabled and self._last > 0:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
        elif self._plain_every is not None and time.perf_counter() - self._start >= 1.0:
            self._plain(time.perf_counter())
