"""Data-parallel training over MPI, with Keras 3's `keras.distribution` names.

    from fastdnn import distribution
    distribution.initialize()                      # reads the MPI world (mpiexec -n N ...)
    distribution.set_distribution(distribution.DataParallel())
    model.fit(x, y, batch_size=256, epochs=5)      # 256 is the global batch

Each process is one replica. `fit` broadcasts the weights and optimizer state from rank 0,
gives each rank its slice of every shuffled global batch, averages the gradients with one
bucketed `Allreduce` per step and aggregates the metrics, so every rank logs the global values;
rank 0 alone draws the progress bar and writes files. `import fastdnn` never imports MPI: mpi4py
loads at `initialize()` (install it with `pip install "fastdnn[mpi]"`).
"""

from .communicator import Communicator, collective_timeout
from .data_parallel import DataParallel, distribution, list_devices, set_distribution
from .launch import mpiexec_command
from .world import initialize, world

__all__ = [
    "Communicator",
    "DataParallel",
    "collective_timeout",
    "distribution",
    "initialize",
    "list_devices",
    "mpiexec_command",
    "set_distribution",
    "world",
]
