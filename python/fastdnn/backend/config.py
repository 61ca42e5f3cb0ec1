"""The backend's global settings, as keras.backend's: the float type, the fuzz factor and the
image layout. fastdnn computes in float32 only, so `set_floatx` takes only "float32"."""

import numbers

_CONFIG = {"epsilon": 1e-7, "image_data_format": "channels_last"}


def backend():
    """The name of the backend: "fastdnn"."""
    return "fastdnn"


def floatx():
    """The default float type: "float32"."""
    return "float32"


def set_floatx(value):
    """Sets the default float type; fastdnn computes in float32 only.

    Raises:
        ValueError: for any other value.
    """
    if value != "float32":
        raise ValueError(f"fastdnn computes in float32 only; set_floatx accepts 'float32'. Received: {value!r}")


def epsilon():
    """The fuzz factor numeric expressions use (1e-7 by default)."""
    return _CONFIG["epsilon"]


def set_epsilon(value):
    """Sets the fuzz factor.

    Raises:
        ValueError: for a value that is not a positive number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"The `epsilon` must be a positive number. Received: {value!r}")
    _CONFIG["epsilon"] = float(value)


def image_data_format():
    """The image layout convention: "channels_last" (default) or "channels_first"."""
    return _CONFIG["image_data_format"]


def set_image_data_format(data_format):
    """Sets the image layout convention.

    Raises:
        ValueError: for anything but "channels_last" or "channels_first".
    """
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format!r}")
    _CONFIG["image_data_format"] = value
