"""fastdnn.schedules (also fastdnn.optimizers.schedules): each schedule against its closed form in
float64 at many steps, the staircase/cycle/warmup variants, config round-trips and argument
errors. Where Keras is installed, the values are also compared with Keras's."""

import json
import math

import numpy as np
import pytest

from fastdnn import schedules
from fastdnn.schedules import (CosineDecay, ExponentialDecay, InverseTimeDecay,
                               LearningRateSchedule, PiecewiseConstantDecay, PolynomialDecay)

STEPS = np.concatenate([np.arange(0, 1200, 7), [1e4, 123456]]).astype(np.float64)
RTOL = 1e-12  # both sides are float64 evaluations of the same formula


def values(schedule, steps=STEPS):
    out = [schedule(s) for s in steps]
    assert all(type(v) is float for v in out)
    return np.array(out)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    schedule = ExponentialDecay(0.01, decay_steps=100, decay_rate=0.1, staircase=staircase)
    p = STEPS / 100
    if staircase:
        p = np.floor(p)
    np.testing.assert_allclose(values(schedule), 0.01 * 0.1 ** p, rtol=RTOL)
    # The book's exponential scheduling η₀·0.1^(t/s), at t = s and 2s.
    assert schedule(100) == pytest.approx(0.001, rel=RTOL)
    assert schedule(200) == pytest.approx(0.0001, rel=RTOL)
    if staircase:
        assert schedule(99) == 0.01 and schedule(199) == pytest.approx(0.001, rel=RTOL)
    else:
        assert schedule(50) == pytest.approx(0.01 * 0.1 ** 0.5, rel=RTOL)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    schedule = InverseTimeDecay(0.5, decay_steps=30, decay_rate=2.0, staircase=staircase)
    p = STEPS / 30
    if staircase:
        p = np.floor(p)
    np.testing.assert_allclose(values(schedule), 0.5 / (1 + 2.0 * p), rtol=RTOL)
    assert schedule(15) == (0.5 if staircase else 0.25)


def test_piecewise_constant_decay():
    boundaries, rates = [100, 250, 600], [0.1, 0.05, 0.01, 0.001]
    schedule = PiecewiseConstantDecay(boundaries, rates)
    expected = np.select([STEPS <= 100, STEPS <= 250, STEPS <= 600], rates[:3], rates[3])
    np.testing.assert_array_equal(values(schedule), expected)
    assert [schedule(s) for s in (0, 100, 100.5, 101, 250, 251, 600, 601)] == \
        [0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.001]
    assert PiecewiseConstantDecay([], [0.3])(10 ** 6) == 0.3


@pytest.mark.parametrize("power", [1.0, 0.5, 2.0])
def test_polynomial_decay(power):
    schedule = PolynomialDecay(0.1, decay_steps=500, end_learning_rate=0.001, power=power)
    t = np.minimum(STEPS, 500)
    expected = (0.1 - 0.001) * (1 - t / 500) ** power + 0.001
    np.testing.assert_allclose(values(schedule), expected, rtol=RTOL)
    assert schedule(0) == pytest.approx(0.1, rel=RTOL)
    assert schedule(500) == schedule(10 ** 6) == pytest.approx(0.001, rel=RTOL)


def test_polynomial_decay_cycle():
    schedule = PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.0, power=1.0, cycle=True)
    multiplier = np.where(STEPS == 0, 1.0, np.ceil(STEPS / 100))
    expected = 0.1 * (1 - STEPS / (100 * multiplier))
    np.testing.assert_allclose(values(schedule), expected, rtol=RTOL, atol=1e-300)
    # At the end of a cycle the rate reaches the end rate, then jumps back up to a lower peak.
    assert schedule(100) == 0.0
    assert schedule(101) == pytest.approx(0.1 * (1 - 101 / 200), rel=RTOL)
    assert PolynomialDecay(1.0, 10)(10) == 0.0001  # the default end_learning_rate


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cosine_decay(alpha):
    schedule = CosineDecay(0.05, decay_steps=700, alpha=alpha)
    t = np.minimum(STEPS, 700)
    expected = 0.05 * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * t / 700)) + alpha)
    np.testing.assert_allclose(values(schedule), expected, rtol=RTOL, atol=1e-18)
    assert schedule(0) == pytest.approx(0.05, rel=RTOL)
    assert schedule(350) == pytest.approx(0.05 * (0.5 * (1 - alpha) + alpha), rel=RTOL)
    assert schedule(10 ** 6) == pytest.approx(0.05 * alpha, abs=1e-18)


def test_cosine_decay_with_warmup():
    schedule = CosineDecay(0.0, decay_steps=500, alpha=0.1, warmup_target=0.2, warmup_steps=100)
    t = np.minimum(STEPS, 600)
    warm = 0.2 * t / 100
    decay = 0.2 * (0.9 * 0.5 * (1 + np.cos(np.pi * (t - 100) / 500)) + 0.1)
    np.testing.assert_allclose(values(schedule), np.where(t < 100, warm, decay), rtol=RTOL)
    assert schedule(50) == pytest.approx(0.1, rel=RTOL)
    assert schedule(100) == pytest.approx(0.2, rel=RTOL)
    assert schedule(600) == schedule(10 ** 6) == pytest.approx(0.02, rel=RTOL)


def test_steps_of_any_numeric_type():
    schedule = ExponentialDecay(1.0, 10, 0.5)
    for step in (20, 20.0, np.int64(20), np.float32(20), np.array(20)):
        assert schedule(step) == 0.25


ALL = [ExponentialDecay(0.01, 20, 0.1, staircase=True),
       PiecewiseConstantDecay([5, 15], [0.01, 0.005, 0.001]),
       InverseTimeDecay(0.01, 10, 1.0),
       PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=2.0, cycle=True),
       CosineDecay(0.01, 100, alpha=0.1, warmup_target=0.1, warmup_steps=10)]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-safe
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    steps = [0, 1, 5, 9, 10, 15, 16, 55, 99, 100, 101, 250]
    assert [clone(s) for s in steps] == [schedule(s) for s in steps]
    serialized = schedules.serialize(schedule)
    assert serialized == {"class_name": type(schedule).__name__, "config": config}
    again = schedules.deserialize(json.loads(json.dumps(serialized)))
    assert type(again) is type(schedule) and again.get_config() == config
    assert schedules.get(serialized).get_config() == config
    assert schedules.get(schedule) is schedule


def test_keras_config_keys_and_custom_objects():
    # A Keras 3 config (with its extra "module"/"registered_name" keys) deserializes.
    keras_config = {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
                    "config": {"initial_learning_rate": 0.01, "decay_steps": 3,
                               "decay_rate": 0.5, "staircase": False,
                               "name": "ExponentialDecay"}, "registered_name": None}
    assert schedules.deserialize(keras_config)(3) == 0.005

    class Halving(LearningRateSchedule):
        def __init__(self, initial_learning_rate):
            self.initial_learning_rate = initial_learning_rate

        def __call__(self, step):
            return self.initial_learning_rate * 0.5 ** step

        def get_config(self):
            return {"initial_learning_rate": self.initial_learning_rate}

    config = schedules.serialize(Halving(2.0))
    assert schedules.deserialize(config, custom_objects={"Halving": Halving})(2) == 0.5
    with pytest.raises(ValueError, match="Halving"):
        schedules.deserialize(config)
    assert "initial_learning_rate=2.0" in repr(Halving(2.0))


def test_base_class_must_be_overridden():
    with pytest.raises(NotImplementedError, match="__call__"):
        LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        LearningRateSchedule().get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: ExponentialDecay(0.01, 0, 0.1), "decay_steps=0"),
    (lambda: ExponentialDecay(0.01, -5, 0.1), "decay_steps=-5"),
    (lambda: ExponentialDecay("0.01", 10, 0.1), "initial_learning_rate='0.01'"),
    (lambda: InverseTimeDecay(0.01, 0, 1.0), "decay_steps=0"),
    (lambda: InverseTimeDecay(0.01, 10, float("nan")), "decay_rate=nan"),
    (lambda: PolynomialDecay(0.01, 0), "decay_steps=0"),
    (lambda: PolynomialDecay(0.01, 10, power=None), "power=None"),
    (lambda: CosineDecay(0.01, 0), "decay_steps=0"),
    (lambda: CosineDecay(0.01, 10, warmup_target=0.1, warmup_steps=-1), "warmup_steps=-1"),
    (lambda: PiecewiseConstantDecay([10, 20], [0.1, 0.01]), "1 less than the length of values"),
    (lambda: PiecewiseConstantDecay([20, 10], [0.1, 0.01, 0.001]), "strictly increasing"),
    (lambda: PiecewiseConstantDecay([10], [0.1, "x"]), r"values\[1\]='x'"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_get_and_deserialize_errors():
    with pytest.raises(ValueError, match="Could not interpret"):
        schedules.get(0.01)
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'NoSuchDecay'"):
        schedules.deserialize({"class_name": "NoSuchDecay", "config": {}})
    with pytest.raises(ValueError, match="invalid value for `config`"):
        schedules.deserialize({"config": {}})
    with pytest.raises(ValueError, match="Could not serialize"):
        schedules.serialize(0.01)
    assert schedules.get(None) is None


def test_matches_keras_where_installed():
    keras_schedules = pytest.importorskip("keras").optimizers.schedules
    for schedule in ALL:
        theirs = getattr(keras_schedules, type(schedule).__name__).from_config(
            schedule.get_config())
        for step in [0, 1, 5, 9, 10, 15, 16, 55, 99, 100, 101, 250]:
            assert schedule(step) == pytest.approx(float(theirs(step)), rel=1e-5, abs=1e-9)


def test_book_power_scheduling_is_inverse_time_decay():
    # η(t) = η₀ / (1 + t/s)^c with c = 1.
    eta0, s = 0.01, 10_000
    schedule = InverseTimeDecay(eta0, decay_steps=s, decay_rate=1.0)
    for t in (0, 1, 5000, 10_000, 123_457):
        assert schedule(t) == pytest.approx(eta0 / (1 + t / s), rel=RTOL)
    assert math.isclose(schedule(s), eta0 / 2)
