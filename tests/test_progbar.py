"""fastdnn.utils.Progbar: the line it prints, when it prints it, and how it averages metrics.

A fake clock (tests set `.now`) makes every time on the line exact; fake streams stand in for a
terminal (redrawn in place with '\\r') and for a file or CI log (final line only).
"""

import io
import re
import sys

import pytest

from fastdnn.utils import Progbar
from fastdnn.utils import progbar as progbar_module

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BAR = "━"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progbar_module, "_clock", fake)
    return fake


@pytest.fixture
def stdout(monkeypatch):
    """Call it in the test body to replace sys.stdout with a fake terminal (tty=True) or a file
    or CI log (tty=False); pytest installs its own capture after fixtures have run."""
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)  # both mean "interactive" to Progbar
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)

    def install(tty=False, stream=None):
        stream = FakeStream(tty) if stream is None else stream
        monkeypatch.setattr(sys, "stdout", stream)
        return stream

    return install


def run(bar, clock, values, seconds_per_step):
    """Updates `bar` once per entry of `values` (a list of [(name, value)]), one step each."""
    for step, step_values in enumerate(values, start=1):
        clock.now = step * seconds_per_step
        bar.update(step, step_values)


def test_not_a_terminal_prints_only_the_final_line(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=10)
    # 0.125 s a step is exact in binary: 10 steps take 1.25 s ("1s"), 125ms a step.
    run(bar, clock, [[("loss", float(step)), ("accuracy", 0.5)] for step in range(1, 11)], 0.125)
    assert log_file.getvalue() == (
        f"10/10 {BAR * 30} 1s 125ms/step - loss: 5.5000 - accuracy: 0.5000\n")


def test_not_a_terminal_partial_bar_is_readable_without_colour(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=4, width=8)
    run(bar, clock, [[("loss", 1.0)]] * 2, 1.0)
    bar.update(2, finalize=True)
    assert log_file.getvalue() == f"2/4 {BAR * 4}{'─' * 4} 2s 1s/step - loss: 1.0000\n"


def test_terminal_redraws_in_place_with_eta_then_total_time(clock, stdout):
    terminal = stdout(tty=True)
    bar = Progbar(target=10, interval=0, stateful_metrics=["lr"])
    values = [[("loss", 1.0), ("lr", 1e-5)], [("loss", 3.0), ("lr", 0.5)]] + [[("loss", 2.0)]] * 8
    run(bar, clock, values, 10.0)
    out = terminal.getvalue()
    assert "\x1b[32m" in out  # coloured on a terminal
    frames = ANSI.sub("", out).split("\r")
    assert frames[0] == "" and len(frames) == 11  # one '\r' per step, since interval=0
    # Step 1: 10 s a step, so 90 s to go, shown as "1:30".
    assert frames[1] == f" 1/10 {BAR * 30} 1:30 10s/step - loss: 1.0000 - lr: 1.0000e-05"
    # Step 2 is 4 characters shorter ("0.5000" after "1.0000e-05"): blanked with 4 spaces.
    assert frames[2] == f" 2/10 {BAR * 30} 1:20 10s/step - loss: 2.0000 - lr: 0.5000    "
    # The last frame: total time instead of the ETA, averages over all steps, a newline.
    assert frames[10] == f"10/10 {BAR * 30} 100s 10s/step - loss: 2.0000 - lr: 0.5000\n"
    assert out.count("\n") == 1


def test_terminal_redraws_at_most_every_interval_but_always_the_last_step(clock, stdout):
    terminal = stdout(tty=True)
    bar = Progbar(target=10, interval=0.05)
    run(bar, clock, [[("loss", 1.0)]] * 10, 1 / 64)  # 3/64 s < 0.05 s <= 4/64 s
    frames = ANSI.sub("", terminal.getvalue()).split("\r")[1:]
    assert [frame.split("/")[0].strip() for frame in frames] == ["1", "5", "9", "10"]
    assert frames[-1].endswith("\n")


def test_averages_weight_each_value_by_the_steps_it_covers(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=3, verbose=2, stateful_metrics=["acc"])
    clock.now = 3.0
    bar.update(2, [("loss", 1.0), ("acc", 0.25)])  # covers steps 1 and 2
    bar.add(1, [("loss", 4.0), ("acc", 0.75)])  # step 3
    # loss: (1 * 2 + 4 * 1) / 3 = 2; acc is stateful, so shown as last given.
    assert log_file.getvalue() == "3/3 - 3s - 1s/step - loss: 2.0000 - acc: 0.7500\n"


def test_stateless_metrics_empty_averages_nothing(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=2, verbose=2, stateless_metrics=())
    run(bar, clock, [[("loss", 1.0)], [("loss", 0.25)]], 1.0)
    assert log_file.getvalue().endswith(" - loss: 0.2500\n")


def test_verbose_2_prints_one_line_at_the_end_even_on_a_terminal(clock, stdout):
    terminal = stdout(tty=True)
    bar = Progbar(target=3, verbose=2, interval=0)
    run(bar, clock, [[("loss", 1.0)], [("loss", 2.0)]], 0.5)
    assert terminal.getvalue() == ""
    clock.now = 1.5
    bar.update(3, [("loss", 3.0)])
    assert terminal.getvalue() == "3/3 - 2s - 500ms/step - loss: 2.0000\n"


def test_unknown_target(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=None)
    run(bar, clock, [[("loss", 1e-5)]] * 5, 0.25)
    assert log_file.getvalue() == ""  # never finalized on its own
    bar.update(5, finalize=True)
    assert log_file.getvalue() == "      5/Unknown 1s 250ms/step - loss: 1.0000e-05\n"

    terminal = stdout(tty=True)
    clock.now = 0.0
    bar = Progbar(target=None, interval=0)
    run(bar, clock, [[("loss", 1.0)]] * 2, 3.0)  # while running: the elapsed time, no ETA
    frame = ANSI.sub("", terminal.getvalue()).split("\r")[2]
    assert frame == "      2/Unknown 6s 3s/step - loss: 1.0000"

    log_file = stdout(tty=False)
    clock.now = 0.0
    two = Progbar(target=None, verbose=2)
    clock.now = 7.0
    two.update(7, [("loss", 0.5)], finalize=True)
    assert log_file.getvalue() == "7/Unknown - 7s - 1s/step - loss: 0.5000\n"


def test_verbose_0_prints_nothing(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=2, verbose=0)
    run(bar, clock, [[("loss", 1.0)]] * 2, 1.0)
    assert log_file.getvalue() == ""


def test_ascii_stream_gets_an_ascii_bar(clock, stdout):
    stream = stdout(stream=io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    bar = Progbar(target=2, width=4)
    run(bar, clock, [[("loss", 1.0)]] * 2, 1.0)
    stream.seek(0)
    assert stream.read() == "2/2 ==== 2s 1s/step - loss: 1.0000\n"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (2.4, "2s"), (0.0123, "12ms"),
                                           (5e-5, "50us")])
def test_time_per_step_format(seconds, text):
    assert progbar_module._format_time(seconds) == text


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (59.9, "59s"), (90, "1:30"),
                                           (3725.5, "1:02:05")])
def test_eta_format(seconds, text):
    assert progbar_module._format_eta(seconds) == text


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"Received: verbose=3"):
        Progbar(target=1, verbose=3)
    with pytest.raises(ValueError, match="at most one"):
        Progbar(target=1, stateful_metrics=["a"], stateless_metrics=["b"])


def test_time_per_step_leaves_out_a_slow_first_step(clock, stdout):
    log_file = stdout(tty=False)
    bar = Progbar(target=4)
    for step, now in enumerate([10.0, 11.0, 12.0, 13.0], start=1):  # step 1 took 10 s (warm-up)
        clock.now = now
        bar.update(step)
    # (13 - 10) / 3 = 1 s a step, where 13 / 4 would say 3 s.
    assert log_file.getvalue() == f"4/4 {BAR * 30} 13s 1s/step\n"
