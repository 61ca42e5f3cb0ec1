"""The native code tables, read from `fastdnn._C`'s enums (written once, in csrc/core/codes.h).

Each table maps a Python name to the integer code the C++ and CUDA kernels take:

    >>> ACTIVATION["relu"] == int(_C.Activation.relu)
    True
"""

from . import _C


def _table(enum):
    return {name: int(value) for name, value in enum.__members__.items()}


ACTIVATION = _table(_C.Activation)
BINARY = _table(_C.BinaryOp)
UNARY = _table(_C.UnaryOp)
OPTIMIZER = _table(_C.OptimizerKind)
CONSTRAINT = _table(_C.ConstraintKind)

# SELU's fixed constants in double (activations/act_rule.h; the kernels use them rounded to float).
SELU_ALPHA = float(_C.SELU_ALPHA)
SELU_SCALE = float(_C.SELU_SCALE)
