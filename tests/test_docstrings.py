"""Every example in fastdnn's docstrings runs and prints what it shows (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import fastdnn

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(fastdnn.__path__, "fastdnn.")
                 if not name.startswith(("fastdnn._C", "fastdnn._cuda", "fastdnn.__main__")))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"
