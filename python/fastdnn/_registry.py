"""The one mechanism behind each family's names (initializers, losses, metrics): a name maps to
a class or a function, and objects serialize as Keras does, {"class_name": ..., "config": ...},
with functions as {"class_name": "function", "config": name}. Keys other than these two (Keras
3's "module", "registered_name") are ignored."""

import inspect


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
