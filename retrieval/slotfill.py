"""Objects of slots dataclasses made from a tuple of their fields' values in one C call.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__` (a Python frame
and an attribute lookup a field): ~1.5 µs for the 13 fields of an answer's `Hit`, ~1 µs for a
`ShownPassage`, and an answer makes seven such objects after ranking has left the caches cold.
`maker(cls)` gives a function of one tuple that sets the slots through their descriptors instead
(retrieval/_excerpt.c's `fill`): the same object, its class unchanged (still frozen, compared and
hashed as before). Only for classes whose `__init__` does nothing else: the checks below refuse the rest.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .excerpts import _native_excerpt

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[[tuple[Any, ...]], T]:
    """A function making `cls(*values)` from `values`, a tuple of every field's value in order."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which fill would skip")
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields) or dataclasses.InitVar in {type(f.type) for f in fields}:
        raise TypeError(f"{cls.__name__}'s __init__ does not take every field")
    if _native_excerpt is None or not hasattr(_native_excerpt, "fill"):
        return lambda values: cls(*values)
    descriptors = tuple(cls.__dict__[f.name] for f in fields)
    return functools.partial(_native_excerpt.fill, cls, descriptors)
