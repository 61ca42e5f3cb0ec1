"""`keras.backend`: the global settings and session of fastdnn, under Keras's names.

fastdnn computes in float32 with its own native kernels; its backend is "fastdnn".

    >>> import fastdnn.backend as K
    >>> K.floatx(), K.epsilon(), K.image_data_format()
    ('float32', 1e-07, 'channels_last')
"""

from .config import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from .session import clear_session, get_value, set_value

__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_value", "image_data_format", "set_epsilon",
           "set_floatx", "set_image_data_format", "set_value"]
