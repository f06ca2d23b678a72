"""The plugin registry: type name → factory, one-line errors naming the known types."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.plugins import PluginRegistry, UnknownPluginError


def make_registry() -> PluginRegistry[Callable[[str], str]]:
    registry: PluginRegistry[Callable[[str], str]] = PluginRegistry("sink")
    registry.register("upper", str.upper)

    @registry.plugin("lower")
    def lower(text: str) -> str:
        return text.lower()

    return registry


def test_factories_are_found_by_type() -> None:
    registry = make_registry()
    assert registry.types == ("lower", "upper")
    assert registry.get("upper")("Ab") == "AB"
    assert registry.get("lower")("Ab") == "ab"


@pytest.mark.parametrize(
    ("type_name", "error", "message"),
    [
        ("upper", None, ""),
        ("title", UnknownPluginError, "unknown sink type 'title'; known types: lower, upper"),
        ("Upper", UnknownPluginError, "unknown sink type 'Upper'; known types: lower, upper"),
    ],
)
def test_get(type_name: str, error: type[Exception] | None, message: str) -> None:
    registry = make_registry()
    if error is None:
        assert registry.get(type_name) is str.upper
        return
    with pytest.raises(error) as raised:
        registry.get(type_name)
    assert str(raised.value) == message


def test_registering_a_type_twice_or_without_a_name_fails() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="sink type 'upper' is already registered"):
        registry.register("upper", str.title)
    with pytest.raises(ValueError, match="a sink type needs a name"):
        registry.register("", str.title)


def test_unregister() -> None:
    registry = make_registry()
    registry.unregister("upper")
    registry.unregister("never-registered")
    assert registry.types == ("lower",)
    empty: PluginRegistry[Callable[[str], str]] = PluginRegistry("sink")
    with pytest.raises(UnknownPluginError, match="known types: none"):
        empty.get("upper")
