"""Plugins chosen by the ``type`` key of their settings: one registry per kind (detector, classifier …).

A registry maps a type name to a factory that opens the plugin from its settings. The factories of the built-in
plugins import their runtime code (ONNX Runtime, OpenCV) when called, not when registered, so importing a registry
stays cheap.

Example:
    >>> shapes: PluginRegistry[type[int]] = PluginRegistry("shape")
    >>> shapes.register("int", int)
    >>> shapes.get("int")("3")
    3
    >>> shapes.get("float")
    Traceback (most recent call last):
    ...
    common.plugins.UnknownPluginError: unknown shape type 'float'; known types: int
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["PluginRegistry", "PluginSettings", "UnknownPluginError"]

F = TypeVar("F")


class UnknownPluginError(ValueError):
    """No plugin of that type is registered; the message names the known types."""


class PluginSettings(Protocol):
    """The settings of any plugin: a ``type`` key naming the plugin that opens them."""

    @property
    def type(self) -> str: ...


class PluginRegistry(Generic[F]):
    """Type name → factory, for one kind of plugin.

    Args:
        kind: what the plugins are (``detector``, ``classifier``), for messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, F] = {}

    def register(self, type_name: str, factory: F) -> None:
        """Adds a plugin; its settings class carries ``type: Literal["<type_name>"]``.

        Raises:
            ValueError: the type name is empty or already registered.
        """
        if not type_name:
            raise ValueError(f"a {self.kind} type needs a name")
        if type_name in self._factories:
            raise ValueError(f"{self.kind} type {type_name!r} is already registered")
        self._factories[type_name] = factory

    def plugin(self, type_name: str) -> Callable[[F], F]:
        """`register` as a decorator of the factory."""

        def add(factory: F) -> F:
            self.register(type_name, factory)
            return factory

        return add

    def unregister(self, type_name: str) -> None:
        """Removes a plugin (tests register their own and remove them afterwards)."""
        self._factories.pop(type_name, None)

    @property
    def types(self) -> tuple[str, ...]:
        """The registered type names, sorted."""
        return tuple(sorted(self._factories))

    def get(self, type_name: str) -> F:
        """The factory of ``type_name``.

        Raises:
            UnknownPluginError: no plugin has that type (one line, naming the known types).
        """
        try:
            return self._factories[type_name]
        except KeyError:
            known = ", ".join(self.types) or "none"
            raise UnknownPluginError(f"unknown {self.kind} type {type_name!r}; known types: {known}") from None
