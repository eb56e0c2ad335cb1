"""Stage configs are dataclasses; this module builds them from YAML/JSON files, preset tables and
overrides, and turns them (or any result holding dataclasses and paths) into plain JSON values."""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from corridos.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from plain values, recursing into nested dataclasses."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: from_plain(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    return cls(**kwargs)


def from_plain(hint: Any, value: Any, where: str) -> Any:
    """A plain JSON value as the type `hint` names: dataclasses from mappings, tuples from lists
    (each item checked), paths from strings, floats from numbers; ConfigError naming the field
    when a value is not of its type (an override is read as YAML, so `two` is a string)."""
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _one_of(arguments, value, where)
    if origin is tuple:
        return _tuple(arguments, value, where)
    if hint is Path and isinstance(value, str):
        return Path(value)
    if hint is float and type(value) in (int, float):
        return float(value)
    # bool is an int to Python, not to a config: "epochs: true" is a mistake.
    if hint in _NAMES and type(value) is not hint:
        raise ConfigError(f"{where}: expected {_NAMES[hint]}, got {value!r}")
    return value


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _one_of(hints: tuple, value: Any, where: str) -> Any:
    if value is None and type(None) in hints:
        return None
    problems = []
    for hint in (h for h in hints if h is not type(None)):
        try:
            return from_plain(hint, value, where)
        except ConfigError as error:
            problems.append(str(error))
    raise ConfigError(" or ".join(problems))


def _tuple(hints: tuple, value: Any, where: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if len(hints) == 2 and hints[1] is Ellipsis:
        hints = (hints[0],) * len(value)
    elif len(hints) != len(value):
        raise ConfigError(f"{where}: expected a list of {len(hints)}, got {value!r}")
    return tuple(from_plain(hint, item, f"{where}[{index}]") for index, (hint, item) in enumerate(zip(hints, value)))


def to_dict(value: Any) -> Any:
    """A config (or any value holding dataclasses, paths and tuples) as plain JSON values."""
    return json.loads(json.dumps(value, default=_plain_default))


def _plain_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def load(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> T:
    """Defaults, then the file (YAML or JSON), then dotted overrides such as {"cleaning.min_velocity": 30}."""
    values = _read_file(Path(path)) if path is not None else {}
    return _with_overrides(cls, values, overrides, str(path or cls.__name__))


def from_preset(
    cls: type[T], presets: dict[str, dict[str, Any]], name: str, overrides: dict[str, Any] | None = None
) -> T:
    """Defaults, then the preset's values (a mapping of field values in `presets`), then dotted
    overrides such as {"model.layers": 3}."""
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(presets)}")
    return _with_overrides(cls, copy.deepcopy(presets[name]), overrides, f"preset {name}")


def _with_overrides(cls: type[T], values: dict[str, Any], overrides: dict[str, Any] | None, where: str) -> T:
    for dotted, value in (overrides or {}).items():
        _set_dotted(values, dotted, value)
    return from_dict(cls, values, where)


def json_object(text: str, where: str) -> dict[str, Any]:
    """A pipeline parameter that holds settings as a JSON object, e.g. '{"steps": 60}'."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where}: {text!r} is not JSON ({error.msg})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a JSON object of settings, got {type(values).__name__}")
    return values


def parse_override(text: str) -> tuple[str, Any]:
    """'a.b=3' -> ('a.b', 3); the value is read as YAML so numbers, lists and booleans work."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def _read_file(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML/JSON: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return values


def _set_dotted(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        values = values.setdefault(part, {})
    values[leaf] = value
