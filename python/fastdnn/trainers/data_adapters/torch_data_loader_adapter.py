"""A `torch.utils.data.DataLoader`, read as NumPy batches (PyTorch is only imported by the
caller)."""

from .data_adapter import DataAdapter
from .data_adapter_utils import standardize_batch


class TorchDataLoaderAdapter(DataAdapter):
    """Batches of a DataLoader; `len()` gives the batches per epoch where the dataset has one."""

    def __init__(self, loader):
        self._loader = loader

    @property
    def num_batches(self):
        try:
            return len(self._loader)
        except TypeError:  # an IterableDataset without __len__
            return None

    @property
    def batch_size(self):
        return self._loader.batch_size

    def get_numpy_iterator(self):
        for batch in self._loader:
            yield standardize_batch(batch, "A torch DataLoader")


def is_torch_dataloader(x):
    """Whether `x` is a torch.utils.data.DataLoader (checked by class: torch is not imported)."""
    return any(cls.__name__ == "DataLoader" and "torch.utils.data" in str(cls.__module__)
               for cls in type(x).__mro__)
