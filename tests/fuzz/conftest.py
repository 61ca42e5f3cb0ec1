"""The fuzz tests feed NaN, infinities and extreme values on purpose: NumPy's RuntimeWarnings
about them (in the references and in fastdnn's NumPy-backed ops) are expected, not defects."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/fuzz/" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
