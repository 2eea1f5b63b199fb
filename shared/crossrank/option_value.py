"""``OptionValue``: a read-only attribute of a :class:`~crossrank.Reranker` reading one option."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

__all__ = ["OptionValue"]

_T = TypeVar("_T")


class OptionValue(Generic[_T]):
    """A read-only attribute that reads one option of the Reranker it belongs to (``_options``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> OptionValue[_T]: ...
    @overload
    def __get__(self, instance: Any, owner: type) -> _T: ...
    def __get__(self, instance: Any, owner: type) -> OptionValue[_T] | _T:
        if instance is None:
            return self
        value: _T = instance._options[self._name]
        return value

    def __set__(self, instance: Any, value: object) -> None:
        # A Reranker is shared by threads and adapters: changing it in place would race.
        raise AttributeError(
            f"Reranker options are read-only; use reranker.with_options({self._name}=...) for a copy."
        )
