"""Lazy public names for a package's ``__init__`` (PEP 562 module ``__getattr__``).

``import statmech`` (and ``import empirical``) stay cheap: a public name is imported from its
submodule the first time it is used, then cached in the package namespace. Shared by both
packages so that the rule lives in one place. Python's import lock makes a first use from two
threads safe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str], namespace: dict[str, Any],
                 special: Mapping[str, Callable[[], Any]] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``.

    ``names`` maps a public name to the submodule defining it (``""``: the name is itself a
    submodule); ``special`` maps names to functions computing their value; any other
    non-dunder name is tried as a submodule (``statmech.sweep``). Values are stored in
    ``namespace`` (the package's ``globals()``) so each is resolved once.
    """

    def __getattr__(name: str) -> Any:
        if special is not None and name in special:
            value = special[name]()
        elif name in names:
            where = names[name]
            value = (import_module(f".{name}", package) if not where
                     else getattr(import_module(f".{where}", package), name))
        elif not name.startswith("__"):
            try:
                value = import_module(f".{name}", package)
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    return __getattr__
