"""The activation cases every dense test runs over: (name, keyword arguments)."""

ACTIVATIONS = [
    (None, {}),
    ("linear", {}),
    ("identity", {}),
    ("relu", {}),
    ("leaky_relu", {}),  # default negative_slope 0.2
    ("leaky_relu", {"negative_slope": 0.01}),
    ("leaky_relu", {"alpha": 0.3}),  # the book's spelling
    ("elu", {}),  # default alpha 1.0
    ("elu", {"alpha": 0.5}),
    ("elu", {"alpha": 2.5}),
    ("selu", {}),
    ("sigmoid", {}),
    ("tanh", {}),
]


def activation_id(case):
    name, kwargs = case
    return str(name) + "".join(f"-{k}={v}" for k, v in kwargs.items())


ACTIVATION_IDS = [activation_id(c) for c in ACTIVATIONS]
