"""The one mechanism behind each family's names (initializers, losses, metrics): a name maps to
a class or a function, and objects serialize as Keras does, {"class_name": ..., "config": ...},
with functions as {"class_name": "function", "config": name}. Keys other than these two (Keras
3's "module", "registered_name") are ignored."""

import contextlib
import contextvars
import inspect
import threading


class Registry:
    """Names of one family.

    Args:
        family: the family's singular name, for messages ("loss").
        base: the family's base class (instances serialize through their get_config).
        entries: dict name -> class or function.
        expected: what else `get` accepts, for messages ("a Loss or a callable(y_true, y_pred)").
        listed: the names to list in messages (default: all).
    """

    def __init__(self, family, base, entries, expected, listed=None):
        self.family, self.base, self.entries, self.expected = family, base, entries, expected
        self.names = sorted(entries if listed is None else listed)

    def lookup(self, name, custom_objects=None):
        """The class or function registered as `name` (custom_objects first).

        Raises:
            ValueError: for an unknown name, listing the known ones.
        """
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        if name not in self.entries:
            raise ValueError(f"Unknown {self.family} {name!r}. Expected one of {self.names}, a dict "
                             f"{{'class_name': ..., 'config': ...}}, {self.expected}.")
        return self.entries[name]

    def serialize(self, obj):
        """{"class_name", "config"} for an instance of the family or a function; None for None.

        Raises:
            ValueError: for anything else.
        """
        if obj is None:
            return None
        if isinstance(obj, self.base):
            return {"class_name": type(obj).__name__, "config": obj.get_config()}
        if callable(obj) and hasattr(obj, "__name__"):
            return {"class_name": "function", "config": obj.__name__}
        base = self.base.__name__
        article = "an" if base[0] in "AEIOU" else "a"
        raise ValueError(f"Could not serialize {self.family} {obj!r}: expected {article} {base} "
                         "or a function.")

    def deserialize(self, config, custom_objects=None):
        """An object from `serialize`'s output, a Keras config or a registered name: a class name
        gives an instance, a function name the function.

        Raises:
            ValueError: for an unknown name or a malformed config.
        """
        if isinstance(config, str):
            obj = self.lookup(config, custom_objects)
            return obj() if inspect.isclass(obj) else obj
        if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
            raise ValueError("Received an invalid value for `config`, expected a dict with a "
                             f"'class_name' string and a 'config' dict. Received: config={config!r}")
        class_name, inner = config["class_name"], config.get("config") or {}
        if class_name == "function":
            return self.lookup(inner, custom_objects)
        cls = self.lookup(class_name, custom_objects)
        return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)

    def get(self, identifier):
        """What an identifier names, as Keras's `get` does: None gives None; a name or a dict is
        deserialized; a class is instantiated; any other callable is returned as it is.

        Raises:
            ValueError: for an unknown name or anything else.
        """
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.family} identifier: {identifier!r}. Expected one "
                         f"of {self.names}, a dict {{'class_name': ..., 'config': ...}}, {self.expected}.")


# ---- serializable classes: fastdnn's layers and models, and the user's own ---------------------
# Saving and config code find classes here by name (never by importing the modules that define
# them), as Keras's `saving.object_registration` does: fastdnn's layers and models register
# themselves with `register_builtin`, users with `register_keras_serializable`.

_BUILTINS = {}  # class name -> fastdnn class
_CUSTOM = {}  # "package>name" (or any name the user adds) -> class or function
_CUSTOM_NAMES = {}  # class -> its registered "package>name"
_scopes = threading.local()


def register_builtin(cls):
    """Class decorator: makes a fastdnn layer or model class findable by its class name."""
    _BUILTINS[cls.__name__] = cls
    return cls


def register_keras_serializable(package="Custom", name=None):
    """Registers a class (or function) under "package>name", as keras.saving does, so that files
    and configs naming it load without `custom_objects`.

    Args:
        package: the package part of the registered name.
        name: the name part (default: the class's or function's `__name__`).

    Example:
        >>> import fastdnn
        >>> @fastdnn.saving.register_keras_serializable(package="Demo")
        ... class Twice(fastdnn.layers.Layer):
        ...     def call(self, x):
        ...         return fastdnn.ops.multiply(x, 2.0)
        >>> fastdnn.saving.get_registered_name(Twice)
        'Demo>Twice'

    Raises:
        ValueError: for a class without `get_config`, or a name already taken by another object.
    """
    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method. "
                             f"Received: {obj!r}")
        if _CUSTOM.get(key, obj) is not obj and getattr(_CUSTOM[key], "__qualname__", None) != obj.__qualname__:
            raise ValueError(f"{key!r} has already been registered to {_CUSTOM[key]!r}; pass another "
                             "`package` or `name`.")
        _CUSTOM[key] = obj
        _CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj):
    """The name `obj` was registered under ("package>name"), else its `__name__`."""
    return _CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_custom_objects():
    """The global dict of registered objects (name -> object); it may be edited directly."""
    return _CUSTOM


class CustomObjectScope:
    """Within the block, `custom_objects` resolve by name as if passed to every load call.

    Example:
        >>> with CustomObjectScope({"Twice": object}):
        ...     get_registered_object("Twice") is object
        True
    """

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        stack = getattr(_scopes, "stack", None)
        if stack is None:
            stack = _scopes.stack = []
        stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()
        return False


custom_object_scope = CustomObjectScope


def get_registered_object(name, custom_objects=None, registered_name=None):
    """The class or function a config names, or None: `custom_objects` first, then the active
    `CustomObjectScope`s, the registered objects, and fastdnn's own classes.

    Args:
        name: the config's "class_name".
        custom_objects: dict of the caller's objects.
        registered_name: the config's "registered_name" ("package>name"), when it has one.
    """
    keys = [k for k in (registered_name, name) if isinstance(k, str)]
    sources = [custom_objects or {}] + list(reversed(getattr(_scopes, "stack", None) or [])) + [_CUSTOM]
    for source in sources:
        for key in keys:
            if key in source:
                return source[key]
    return _BUILTINS.get(name) if isinstance(name, str) else None


def builtin_names():
    """The names of fastdnn's registered layer and model classes, sorted."""
    return sorted(_BUILTINS)


# ---- safe mode: whether a config may carry code (a Lambda layer's Python function) -------------

_SAFE_MODE = contextvars.ContextVar("fastdnn_safe_mode", default=True)


@contextlib.contextmanager
def safe_mode_scope(safe_mode=True):
    """Within the block, configs are read in `safe_mode` (True: a Lambda layer's Python function
    is refused, as in Keras; False: it is rebuilt from its bytecode)."""
    token = _SAFE_MODE.set(bool(safe_mode))
    try:
        yield
    finally:
        _SAFE_MODE.reset(token)


def in_safe_mode():
    return _SAFE_MODE.get()
