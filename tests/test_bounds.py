"""The kernels read and write only inside their operands: each operand in turn is placed right
before an unreadable page (tests/guard_page.py), in a child process so a SIGSEGV fails one test
instead of killing the suite."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).with_name("guard_page.py")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="guard pages via mprotect: Linux only")


@pytest.mark.parametrize("operand", ["a", "b", "bias", "out"])
def test_no_access_past_operand_end(operand, isa):
    p = subprocess.run([sys.executable, str(SCRIPT), isa, operand], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", (
        f"exit code {p.returncode} (-11 is SIGSEGV): {(p.stdout + p.stderr)[-800:]}")
