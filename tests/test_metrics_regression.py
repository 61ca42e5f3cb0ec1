"""fastdnn.metrics' regression metrics (MeanSquaredError, RootMeanSquaredError,
MeanAbsoluteError) and the names compile resolves for them: running results over several
weighted batches of every label and weight shape against float64 NumPy and real Keras 3, and
the names and values an evaluate logs, beside Keras's."""

import os

import fastdnn
import numpy as np
import pytest
from fastdnn import metrics as M

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

# The metrics sum float64 values from the same inputs the references use: only the summation
# order differs (~1e-15 relative); 1e-12 still fails one dropped or doubled sample.
RTOL = 1e-12
# Keras computes the errors, weights and totals in float32: ~n·eps32 relative for n <= 54
# samples (~3e-6 at worst; 4e-7 seen). 1e-5 still fails a wrong weight or a dropped sample.
KERAS_RTOL = 1e-5
# A float32 model's loss and metrics in Keras and in fastdnn: each side's forward pass rounds
# to a few ulp and Keras sums in float32; seen 2e-7 relative. 1e-5 fails a misweighted batch.
EVALUATE_RTOL = 1e-5


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


REFERENCES = {  # per-element error, then the finishing function of the weighted mean
    "MeanSquaredError": (lambda e: e ** 2, lambda m: m),
    "RootMeanSquaredError": (lambda e: e ** 2, np.sqrt),
    "MeanAbsoluteError": (np.abs, lambda m: m),
}
SHAPES = {  # (y_true shape, y_pred shape, sample_weight shape) for n samples
    "rank1": (lambda n: (n,), lambda n: (n,), lambda n: (n,)),
    "column": (lambda n: (n,), lambda n: (n, 1), lambda n: (n, 1)),
    "rows": (lambda n: (n, 3), lambda n: (n, 3), lambda n: (n,)),
    "elements": (lambda n: (n, 3), lambda n: (n, 3), lambda n: (n, 3)),
}


# MeanSquaredError and MeanAbsoluteError reduce the last axis before weighting, so (as in
# Keras) a rank-1 batch or per-element weights do not fit them; RootMeanSquaredError weighs the
# squared errors themselves and takes both.
CASES = [(name, shape) for name in sorted(REFERENCES) for shape in sorted(SHAPES)
         if name == "RootMeanSquaredError" or shape in ("column", "rows")]
MISFITS = [(name, shape) for name in ("MeanAbsoluteError", "MeanSquaredError")
           for shape in ("elements", "rank1")]


def make_batches(rng, shape, sizes=(1, 4, 17, 32)):
    true_shape, pred_shape, weight_shape = SHAPES[shape]
    return [(rng.normal(size=true_shape(n)), rng.normal(size=pred_shape(n)).astype(np.float32),
             rng.uniform(0.0, 2.0, weight_shape(n))) for n in sizes]


def reference(name, batches):
    """The weighted mean over samples of each sample's mean error (weights per element are
    averaged per sample too, as Keras's reduce_to_samplewise_values does)."""
    per_error, finish = REFERENCES[name]
    totals, counts = 0.0, 0.0
    for y, p, w in batches:
        n = len(y)
        err = per_error(np.asarray(p, np.float64).reshape(n, -1) - np.asarray(y, np.float64).reshape(n, -1))
        w = np.asarray(w, np.float64).reshape(n, -1)  # (n, 1) per sample, (n, d) per element
        totals += (err * w).mean(axis=1).sum()
        counts += w.mean(axis=1).sum()
    return finish(totals / counts)


@pytest.mark.parametrize("name, shape", CASES)
def test_over_several_weighted_batches(name, shape, rng):
    batches = make_batches(rng, shape)
    metric = getattr(M, name)()
    for y, p, w in batches:
        metric.update_state(y, p, sample_weight=w)
    result = metric.result()
    assert isinstance(result, float)
    assert result == pytest.approx(reference(name, batches), rel=RTOL)
    metric.reset_state()
    assert metric.result() == 0.0


@pytest.mark.parametrize("name, shape", CASES)
def test_matches_keras(name, shape, keras, rng):
    batches = make_batches(rng, shape)
    ours, theirs = M.get(name), getattr(keras.metrics, name)()
    for y, p, w in batches:
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
        assert ours.result() == pytest.approx(float(theirs.result()), rel=KERAS_RTOL)
    assert ours.get_config() == {**theirs.get_config(), "dtype": None}


@pytest.mark.parametrize("name, shape", MISFITS)
def test_misfit_weights_raise(name, shape, rng):
    y, p, w = make_batches(rng, shape, sizes=(5,))[0]
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(M, name)().update_state(y, p, sample_weight=w)


@pytest.mark.parametrize("name, shape", MISFITS)
def test_misfit_weights_raise_in_keras_too(name, shape, keras, rng):
    y, p, w = make_batches(rng, shape, sizes=(5,))[0]
    with pytest.raises(ValueError):
        getattr(keras.metrics, name)().update_state(y, p, sample_weight=w)


# ---- names --------------------------------------------------------------------------------------

def test_names_compile_resolves():
    """Keras 3 knows "mse"/"mae" (and the full names) and "root_mean_squared_error", not "rmse";
    a metric named by a string logs under that string."""
    for name, fn in [("mse", M.mean_squared_error), ("MSE", M.mean_squared_error),
                     ("mean_squared_error", M.mean_squared_error), ("mae", M.mean_absolute_error),
                     ("mean_absolute_error", M.mean_absolute_error)]:
        metric = M.resolve(name)
        assert metric._fn is fn and metric.name == name
    rmse = M.resolve("root_mean_squared_error")
    assert type(rmse) is M.RootMeanSquaredError and rmse.name == "root_mean_squared_error"
    assert type(M.resolve("RootMeanSquaredError")) is M.RootMeanSquaredError
    with pytest.raises(ValueError, match="root_mean_squared_error"):
        M.get("rmse")


def test_names_match_keras(keras):
    for name in ("mse", "MSE", "mean_squared_error", "mae", "MAE", "mean_absolute_error",
                 "root_mean_squared_error", "RootMeanSquaredError"):
        assert type(keras.metrics.get(name)).__name__ in ("MeanSquaredError", "MeanAbsoluteError",
                                                          "RootMeanSquaredError")
        M.get(name)  # fastdnn knows every name Keras knows
    with pytest.raises(ValueError):
        keras.metrics.get("rmse")


def _model(lib, kernel, bias):
    model = lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(2)])
    model.layers[-1].set_weights([kernel, bias])
    return model


def test_evaluate_logs_like_keras(keras, rng):
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.normal(size=(40, 2)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 40).astype(np.float32)
    kernel = rng.normal(size=(3, 2)).astype(np.float32)
    bias = rng.normal(size=2).astype(np.float32)
    logs = {}
    for lib in (fastdnn, keras):
        model = _model(lib, kernel, bias)
        model.compile(optimizer="sgd", loss="mse",
                      metrics=["mse", "mae", "root_mean_squared_error",
                               lib.metrics.RootMeanSquaredError(name="rmse")],
                      weighted_metrics=[lib.metrics.MeanAbsoluteError(name="wmae")])
        logs[lib.__name__] = model.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0,
                                            return_dict=True)
    ours, theirs = logs["fastdnn"], logs["keras"]
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        assert ours[key] == pytest.approx(float(theirs[key]), rel=EVALUATE_RTOL), key
    # and what each is: unweighted errors of the predictions, and the weighted one
    err = (x.astype(np.float64) @ kernel + bias) - y
    assert ours["mse"] == pytest.approx(np.mean(err ** 2), rel=EVALUATE_RTOL)
    assert ours["rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=EVALUATE_RTOL)
    wmae = np.sum(np.abs(err).mean(axis=1) * w) / w.sum()
    assert ours["wmae"] == pytest.approx(wmae, rel=EVALUATE_RTOL)
