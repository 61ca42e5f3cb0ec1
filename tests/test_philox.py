"""Philox4x32-10 (csrc/random/philox.h) against the Random123 known-answer vectors and against
independent Python and NumPy implementations (tests/philox_reference.py)."""

import numpy as np
import pytest

from fastdnn import _C
from philox_reference import philox_np, philox_py

# Random123's kat_vectors for philox4x32_10: (counter, key) -> output.
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS, ids=["zeros", "ones", "pi"])
def test_known_answers(counter, key, expected):
    assert _C.philox4x32(counter, key) == expected
    assert philox_py(counter, key) == expected  # the test's own reference agrees too
    got = philox_np(*[[c] for c in counter], *key)
    assert tuple(int(w[0]) for w in got) == expected


def test_native_matches_python_on_random_counters(rng):
    for _ in range(300):
        counter = tuple(int(v) for v in rng.integers(0, 2**32, 4))
        key = tuple(int(v) for v in rng.integers(0, 2**32, 2))
        assert _C.philox4x32(counter, key) == philox_py(counter, key)


def test_reference_round_count_matters():
    # Guards the reference itself: a wrong round count would still be self-consistent.
    assert philox_py((0, 0, 0, 0), (0, 0), rounds=9) != KNOWN_ANSWERS[0][2]


def test_output_words_look_uniform():
    words = np.stack(philox_np(np.arange(20000), 0, 0, 0, 123, 456)).astype(np.float64) / 2**32
    # each word's mean is 1/2 within 6 sigma, and neighbouring blocks are uncorrelated
    sigma = np.sqrt(1 / 12 / words.shape[1])
    assert np.all(np.abs(words.mean(axis=1) - 0.5) < 6 * sigma)
    corr = np.corrcoef(words[0, :-1], words[0, 1:])[0, 1]
    assert abs(corr) < 6 / np.sqrt(words.shape[1])


@pytest.mark.parametrize("counter,key,error", [
    ((0, 0, 0), (0, 0), ValueError),
    ((0, 0, 0, 0), (0,), ValueError),
    ((0, 0, 0, -1), (0, 0), ValueError),
    ((0, 0, 0, 2**32), (0, 0), ValueError),
    ((0, 0, 0, 1.5), (0, 0), TypeError),
    ("abcd", (0, 0), TypeError),
    (5, (0, 0), TypeError),
])
def test_bad_arguments(counter, key, error):
    with pytest.raises(error, match="counter|key"):
        _C.philox4x32(counter, key)
