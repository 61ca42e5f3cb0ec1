"""fastdnn.utils.to_categorical, normalize and split_dataset, against float64 NumPy written here,
Python's `random.shuffle` (the shuffle Keras 3 uses) and, where it is installed, real Keras 3
(its functions, and for split_dataset its size rules: Keras's own split needs TensorFlow)."""

import os
import random

import fastdnn as keras
import numpy as np
import pytest
from _tolerances import EPS32
from fastdnn.utils import normalize, split_dataset, to_categorical


@pytest.fixture
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras")


def test_reachable_as_keras_utils():
    assert keras.utils.to_categorical is to_categorical
    assert keras.utils.normalize is normalize
    assert keras.utils.split_dataset is split_dataset


# ---- to_categorical ------------------------------------------------------------------------------

def one_hot64(labels, num_classes):
    """The one-hot rows of integer labels, with Keras 3's rule for a trailing axis of 1."""
    labels = np.asarray(labels)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    out = np.zeros(labels.shape + (num_classes,))
    for index in np.ndindex(labels.shape):
        out[index + (int(labels[index]),)] = 1.0
    return out


@pytest.mark.parametrize("shape", [(17,), (17, 1), (5, 3), (4, 1, 1), (3, 2, 1), (), (1,), (1, 1)])
@pytest.mark.parametrize("num_classes", [None, 7])
def test_to_categorical_matches_numpy_one_hot(rng, shape, num_classes):
    labels = rng.integers(0, 6, size=shape)
    expected_classes = num_classes or int(labels.max()) + 1
    result = to_categorical(labels, num_classes)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, one_hot64(labels, expected_classes))
    squeezed = shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape
    assert result.shape == squeezed + (expected_classes,)


def test_to_categorical_takes_lists_integral_floats_and_booleans():
    np.testing.assert_array_equal(to_categorical([2, 0, 1]), np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 3.0])), np.eye(4)[[1, 3]])
    np.testing.assert_array_equal(to_categorical([True, False]), np.eye(2)[[1, 0]])
    assert to_categorical(np.zeros(0, int), num_classes=3).shape == (0, 3)
    assert to_categorical(np.zeros((0, 1), int), num_classes=3).shape == (0, 3)


@pytest.mark.parametrize("x, num_classes, match", [
    ([0, -1, 2], None, r"\[0, num_classes\).*label -1"),
    ([0, 3], 3, r"\[0, 3\).*label 3"),
    ([0.5, 1.0], None, "integer class labels.*0.5"),
    ([np.nan], 2, "integer class labels"),
    (["a"], 2, "integer class labels"),
    ([0, 1], 0, "num_classes=0"),
    ([0, 1], 2.0, "num_classes=2.0"),
    (np.zeros(0, int), None, "empty labels")])
def test_to_categorical_rejects_bad_labels(x, num_classes, match):
    with pytest.raises(ValueError, match=match):
        to_categorical(x, num_classes)


@pytest.mark.parametrize("shape", [(17,), (17, 1), (5, 3), (4, 1, 1), ()])
def test_to_categorical_matches_keras(real_keras, rng, shape):
    labels = rng.integers(0, 6, size=shape)
    for num_classes in (None, 9):
        expected = real_keras.utils.to_categorical(labels, num_classes)
        result = to_categorical(labels, num_classes)
        assert result.shape == expected.shape
        np.testing.assert_array_equal(result, expected)  # 0 and 1: exact in any float dtype
    expected = real_keras.utils.to_categorical(labels.tolist())  # Keras's plain-NumPy path
    np.testing.assert_array_equal(to_categorical(labels.tolist()), expected)


# ---- normalize ---------------------------------------------------------------------------------

def normalize64(x, axis, order):
    """x over its `order`-norm along `axis`, in float64, with zero norms left as 1."""
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    if order == np.inf:
        norm = magnitude.max(axis=axis, keepdims=True)
    elif order == 1:
        norm = magnitude.sum(axis=axis, keepdims=True)
    else:
        norm = (magnitude ** order).sum(axis=axis, keepdims=True) ** (1.0 / order)
    return x / np.where(norm == 0, 1.0, norm)


@pytest.mark.parametrize("shape, axis", [((6, 17), -1), ((6, 17), 1), ((6, 17), 0), ((33,), -1),
                                         ((33,), 0), ((3, 4, 5), 1), ((3, 4, 5), -1), ((1, 1), 0)])
@pytest.mark.parametrize("order", [2, 1, 3, np.inf])
def test_normalize_matches_float64_numpy(rng, shape, axis, order):
    x = rng.normal(size=shape)
    x.reshape(-1)[:3] = 0.0
    if len(shape) > 1:
        x[(0,) * (len(shape) - 1)] = 0.0  # a zero vector somewhere: left as zeros
    length = shape[axis]
    for dtype in (np.float64, np.float32):
        data = x.astype(dtype)
        result = normalize(data, axis=axis, order=order)
        assert result.dtype == dtype and result.shape == shape
        # A float sum of `length` terms, a root and a division: within (length + 2) ulp
        # relative, worst case, of the float64 result of the very same inputs.
        ulp = EPS32 if dtype == np.float32 else np.finfo(np.float64).eps
        np.testing.assert_allclose(result, normalize64(data, axis, order),
                                   rtol=(length + 2) * ulp, atol=1e-300)


def test_normalize_leaves_zero_vectors_and_takes_lists_and_integers():
    np.testing.assert_array_equal(normalize(np.zeros((2, 3))), np.zeros((2, 3)))
    result = normalize([[3, 4], [0, 0]])
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [[0.6, 0.8], [0.0, 0.0]])  # 3/5 and 4/5 round alike
    np.testing.assert_array_equal(normalize(np.array([0.0, 5.0]), order=1), [0.0, 1.0])


def test_normalize_axis_none_divides_by_the_norm_numpy_defines(rng):
    x = rng.normal(size=(4, 6))
    # for a matrix, np.linalg.norm of order 2 is the largest singular value
    np.testing.assert_allclose(normalize(x, axis=None), x / np.linalg.svd(x, compute_uv=False)[0],
                               rtol=1e-13)
    v = rng.normal(size=9)
    np.testing.assert_allclose(normalize(v, axis=None), v / np.sqrt(np.sum(v * v)), rtol=1e-15)


def test_normalize_rejects_a_bad_axis_or_order():
    with pytest.raises(ValueError, match="axis 2"):
        normalize(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="norm order"):
        normalize(np.ones((2, 3)), order="fro")


@pytest.mark.parametrize("order", [2, 1, np.inf])
def test_normalize_matches_keras(real_keras, rng, order):
    for dtype in (np.float32, np.float64):
        x = rng.normal(size=(7, 5)).astype(dtype)
        x[2] = 0.0
        for axis in (-1, 1):  # where Keras keeps the shape (see normalize's docstring)
            expected = real_keras.utils.normalize(x, axis=axis, order=order)
            result = normalize(x, axis=axis, order=order)
            assert result.dtype == expected.dtype
            np.testing.assert_array_equal(result, expected)  # the same NumPy operations


# ---- split_dataset -----------------------------------------------------------------------------

@pytest.mark.parametrize("left_size, right_size, lengths", [
    (0.8, None, (8, 2)), (None, 0.25, (8, 2)), (3, None, (3, 7)), (None, 4, (6, 4)),
    (3, 4, (3, 4)), (0.2, 0.5, (2, 5)), (0.25, None, (2, 8)), (0.35, 3, (4, 3)), (9, 0.1, (9, 1))])
def test_split_sizes_and_order_without_shuffle(left_size, right_size, lengths):
    x = np.arange(30).reshape(10, 3)
    left, right = split_dataset(x, left_size=left_size, right_size=right_size)
    # round(2.5) is 2 in Python, as Keras rounds: hence 0.25 of 10 gives 2
    np.testing.assert_array_equal(left, x[:lengths[0]])
    np.testing.assert_array_equal(right, x[10 - lengths[1]:])  # the last samples, as Keras


def test_split_keeps_structure_and_pairs():
    x, y = np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20, dtype=np.int8)
    (x_left, y_left), (x_right, y_right) = split_dataset((x, y), left_size=15, shuffle=True, seed=1)
    assert (x_left.dtype, y_left.dtype, x_left.shape, y_right.shape) == (np.float32, np.int8, (15, 2), (5,))
    np.testing.assert_array_equal(x_left[:, 0], 2 * y_left)  # rows stay with their labels
    np.testing.assert_array_equal(x_right[:, 0], 2 * y_right)
    assert sorted(np.concatenate([y_left, y_right]).tolist()) == list(range(20))
    left, right = split_dataset([x, y], right_size=0.5)
    assert type(left) is tuple and type(right) is tuple  # a list comes back as a tuple, as Keras
    left, right = split_dataset({"a": x, "b": y}, left_size=0.5)
    assert sorted(left) == ["a", "b"]
    np.testing.assert_array_equal(right["b"], y[10:])


@pytest.mark.parametrize("seed", [0, 7, 12345])
@pytest.mark.parametrize("left_size, right_size", [(0.7, None), (5, 20), (None, 13)])
def test_shuffle_is_kerass_python_random_shuffle(seed, left_size, right_size):
    n = 50
    data = np.arange(n) * 3
    left, right = split_dataset(data, left_size, right_size, shuffle=True, seed=seed)
    # Keras 3: random.seed(seed); random.shuffle(the list of samples); then the slices
    state = random.getstate()
    samples = list(data)
    random.seed(seed)
    random.shuffle(samples)
    random.setstate(state)
    n_left = len(left)
    n_right = len(right)
    np.testing.assert_array_equal(left, samples[:n_left])
    np.testing.assert_array_equal(right, samples[n - n_right:])


def test_shuffle_leaves_global_random_alone_and_seed_none_follows_set_random_seed():
    data = np.arange(64)
    state = random.getstate()
    first = split_dataset(data, left_size=0.5, shuffle=True, seed=3)
    assert random.getstate() == state
    np.testing.assert_array_equal(first[0], split_dataset(data, left_size=0.5, shuffle=True, seed=3)[0])
    assert not np.array_equal(first[0], split_dataset(data, left_size=0.5, shuffle=True, seed=4)[0])
    keras.utils.set_random_seed(11)
    unseeded = split_dataset(data, left_size=0.5, shuffle=True)[0]
    keras.utils.set_random_seed(11)
    np.testing.assert_array_equal(unseeded, split_dataset(data, left_size=0.5, shuffle=True)[0])
    assert not np.array_equal(unseeded, np.arange(32))


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ValueError, "At least one of the `left_size` or `right_size`"),
    ({"left_size": 0, "right_size": 0}, ValueError, "Both `left_size` and `right_size` are zero"),
    ({"left_size": 10}, ValueError, "left_size=10"), ({"left_size": 0}, ValueError, "left_size=0"),
    ({"right_size": 1.0}, ValueError, "right_size=1.0"), ({"left_size": -0.5}, ValueError, "left_size"),
    ({"left_size": 0.6, "right_size": 0.5}, ValueError, "greater than 1"),
    ({"left_size": 6, "right_size": 5}, ValueError, "= 11"),
    ({"left_size": 0.01}, ValueError, "left side dataset split will be empty"),
    ({"right_size": 0.96}, ValueError, "left side dataset split will be empty"),
    ({"left_size": "5"}, TypeError, "left_size"), ({"right_size": True}, TypeError, "right_size"),
    ({"left_size": 0, "right_size": "a"}, TypeError, "right_size")])
def test_split_size_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        split_dataset(np.arange(10), **kwargs)


@pytest.mark.parametrize("dataset, error, match", [
    ([[1, 2], [3, 4]], ValueError, "numpy.ndarray"), ((np.arange(3), np.arange(4)), ValueError, "different lengths"),
    ((), ValueError, "empty tuple"), (np.zeros((0, 2)), ValueError, "empty dataset"),
    (np.array(3.0), ValueError, "first"), (np.float64(3.0), TypeError, "dataset="), ("abc", TypeError, "dataset=")])
def test_split_dataset_errors(dataset, error, match):
    with pytest.raises(error, match=match):
        split_dataset(dataset, left_size=0.5)


def test_split_sizes_follow_kerass_rules(real_keras):
    rules = pytest.importorskip("keras.src.utils.dataset_utils")
    rescale = getattr(rules, "_rescale_dataset_split_sizes", None)
    if rescale is None:
        pytest.skip("this Keras has no _rescale_dataset_split_sizes")
    sizes = [None, 0, 1, 2, 3, 6, 7, 10, 11, -1, 0.0, 0.1, 0.15, 0.25, 0.5, 0.75, 0.95, 1.0, 1.5, -0.2]
    checked = 0
    for total in (7, 10):
        for left_size in sizes:
            for right_size in sizes:
                if left_size is None and right_size is None:
                    continue
                try:
                    expected = rescale(left_size, right_size, total)
                except (TypeError, ValueError) as failure:
                    expected = type(failure)
                try:
                    left, right = split_dataset(np.arange(total), left_size, right_size)
                    result = (len(left), len(right))
                except (TypeError, ValueError) as failure:
                    result = type(failure)
                assert result == expected, (total, left_size, right_size)
                checked += 1
    assert checked == 2 * (len(sizes) ** 2 - 1)
