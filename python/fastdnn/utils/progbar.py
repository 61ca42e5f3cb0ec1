"""A Keras-style text progress bar: `1719/1719 ━━━━━━━━━━ 2s 1ms/step - loss: 0.5123`."""

import math
import os
import sys
from time import monotonic as _clock  # a module-level name, so tests can swap in a fake clock

import numpy as np

_DONE, _TODO = "━", "─"  # without colour (a file or CI log) the bar needs two characters
_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


class Progbar:
    """Displays a progress bar with an ETA, the time per step and running metrics.

    Metrics given to `update` are averaged over the steps seen so far, weighted by the number of
    steps each value covers, unless they are named in `stateful_metrics`, which are shown as
    given. On a terminal (or in Jupyter) verbose=1 redraws one line in place with '\\r', at most
    every `interval` seconds and always on the last step; anywhere else (a file, a CI log) it
    prints only the final line. verbose=2 prints one line when the bar is finalized.

    Unlike Keras 3, whose final update replaces each average with the value it is given, the
    final line averages every step, the last included (as tf.keras did); `ProgbarLogger`, whose
    logs are averages already, averages nothing (`stateless_metrics=()`).

    Args:
        target: total number of steps expected, or None if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (live bar) or 2 (one line at the end).
        interval: minimum number of seconds between two redraws with verbose=1.
        stateful_metrics: names of metrics shown as given instead of averaged.
        unit_name: what a step is called in the time per step, e.g. "step" or "sample".
        stateless_metrics: names of the only metrics to average (Keras 3); all others are shown
            as given. Pass at most one of `stateful_metrics` and `stateless_metrics`.

    Raises:
        ValueError: if `verbose` is not 0, 1 or 2, or both metric lists are given.

    Example:
        >>> from fastdnn.utils import Progbar
        >>> bar = Progbar(target=3, verbose=2)
        >>> for step in range(3):
        ...     bar.update(step + 1, values=[("loss", float(step))])  # doctest: +ELLIPSIS
        3/3 - 0s - ...s/step - loss: 1.0000
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step", stateless_metrics=None):
        if verbose not in (0, 1, 2):
            raise ValueError(f"Received an invalid value for `verbose`, expected 0, 1 or 2. "
                             f"Received: verbose={verbose!r}")
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Pass at most one of `stateful_metrics` and `stateless_metrics`. "
                             f"Received: stateful_metrics={stateful_metrics!r}, "
                             f"stateless_metrics={stateless_metrics!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._values = {}  # name -> [sum of value * steps, steps], or [value, 1] if stateful
        self._seen_so_far = 0
        self._start = _clock()
        self._last_update = -math.inf
        self._time_after_first_step = None
        self._prev_width = 0

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step `current` and records one value per metric.

        Args:
            current: number of steps done so far.
            values: list of `(name, value)` pairs for the steps since the last update.
            finalize: whether this is the last update; None means `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        steps = max(current - self._seen_so_far, 1)  # the same step given twice still counts
        for name, value in values or ():
            if self._averaged(name):
                total, count = self._values.get(name, (0.0, 0))
                self._values[name] = [total + float(np.mean(value)) * steps, count + steps]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current
        now = _clock()
        time_per_step = self._step_duration(current, now)

        if self.verbose == 1:
            stream = sys.stdout
            live = _is_interactive(stream)
            if not finalize and (not live or now - self._last_update < self.interval):
                return
            text, width = self._bar_line(current, now, time_per_step, finalize, color=live)
            if live:  # redraw in place, blanking what is left of a longer previous line
                text = "\r" + text + " " * max(self._prev_width - width, 0)
            _write(stream, text + ("\n" if finalize else ""))
            self._prev_width = width
        elif self.verbose == 2 and finalize:
            line = (f"{self._count(current)} - {now - self._start:.0f}s - "
                    f"{_format_time(time_per_step)}/{self.unit_name}{self._metrics()}\n")
            _write(sys.stdout, line)
        self._last_update = now

    def add(self, n, values=None):
        """Advances the bar by `n` steps; see `update`."""
        self.update(self._seen_so_far + n, values)

    def _averaged(self, name):
        if self.stateless_metrics is not None:
            return name in self.stateless_metrics
        return name not in self.stateful_metrics

    def _known(self):
        return self.target is not None and self.target > 0

    def _count(self, current, pad=0):
        if not self._known():
            return f"{current:>{pad}}/Unknown"
        return f"{current:>{len(str(self.target))}}/{self.target}"

    def _bar_line(self, current, now, time_per_step, finalize, color):
        """The verbose=1 line, and its width on screen (without the colour codes)."""
        parts = [(self._count(current, pad=7), _BOLD)]
        if self._known():
            done = int(self.width * min(current / self.target, 1.0))
            parts += [(" ", ""), (_DONE * done, _GREEN),
                      ((_DONE if color else _TODO) * (self.width - done), _WHITE)]
            if not finalize:
                parts += [(" ", ""), (_format_eta(time_per_step * (self.target - current)), _BOLD)]
        if finalize or not self._known():
            parts += [(" ", ""), (f"{now - self._start:.0f}s", _BOLD)]
        parts.append((f" {_format_time(time_per_step)}/{self.unit_name}{self._metrics()}", ""))
        width = sum(len(text) for text, _ in parts)
        if color:
            return "".join(f"{code}{text}{_RESET}" if code and text else text
                           for text, code in parts), width
        return "".join(text for text, _ in parts), width

    def _metrics(self):
        out = ""
        for name, (value, count) in self._values.items():
            try:
                value = float(np.mean(value)) / max(count, 1)
            except (TypeError, ValueError):  # a stateful value that is not a number: show as is
                out += f" - {name}: {value}"
                continue
            out += f" - {name}: {value:.4f}" if abs(value) > 1e-3 else f" - {name}: {value:.4e}"
        return out

    def _step_duration(self, current, now):
        """Seconds per step, leaving out the first step (compilation, warm-up) once there are
        more; 0 before the first step."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            duration = (now - self._time_after_first_step) / (current - 1)
        else:
            duration = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return duration


def _is_interactive(stream):
    """Whether `stream` shows '\\r' redraws in place: a terminal, Jupyter or PyCharm's console."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


def _write(stream, text):
    try:
        stream.write(text)
    except UnicodeEncodeError:  # e.g. an ASCII or cp1252 console: draw the bar in ASCII
        stream.write(text.replace(_DONE, "=").replace(_TODO, "."))
    stream.flush()


def _format_time(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


def _format_eta(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    if minutes:
        return f"{minutes}:{seconds:02d}"
    return f"{seconds}s"
