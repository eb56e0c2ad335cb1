"""Configs from plain values: each field is checked against its type, so a bad file value or
`--set` override is a ConfigError naming the field, never a TypeError deep inside a stage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from corridos import config as config_io
from corridos.errors import ConfigError


@dataclasses.dataclass
class Inner:
    enabled: bool = False


@dataclasses.dataclass
class Example:
    count: int = 1
    seconds: float = 1.0
    name: str = "a"
    path: Path = Path("p")
    limit: float | None = None
    span: tuple[float, float] = (0.0, 1.0)
    names: tuple[str, ...] = ()
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_plain_values_become_their_fields_types():
    values = {"count": 3, "seconds": 2, "path": "x/y", "limit": 4, "span": [1, 2], "names": ["b", "c"]}
    built = config_io.from_dict(Example, {**values, "inner": {"enabled": True}})
    assert built == Example(3, 2.0, "a", Path("x/y"), 4.0, (1.0, 2.0), ("b", "c"), Inner(True))
    assert type(built.seconds) is float and type(built.span[0]) is float
    assert config_io.from_dict(Example, {"limit": None}).limit is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("count=two", "Example.count: expected an integer, got 'two'"),
        ("count=true", "Example.count: expected an integer, got True"),
        ("count=1.5", "Example.count: expected an integer, got 1.5"),
        ("seconds=fast", "Example.seconds: expected a number, got 'fast'"),
        ("name=3", "Example.name: expected a string, got 3"),
        ("limit=high", "Example.limit: expected a number, got 'high'"),
        ("span=[1]", r"Example.span: expected a list of 2, got \[1\]"),
        ("span=[1, x]", r"Example.span\[1\]: expected a number, got 'x'"),
        ("names=b", "Example.names: expected a list, got 'b'"),
        ("inner.enabled=maybe", "Example.inner.enabled: expected true or false, got 'maybe'"),
    ],
)
def test_an_override_of_the_wrong_type_names_the_field(override, message):
    with pytest.raises(ConfigError, match=message):
        config_io.load(Example, None, dict([config_io.parse_override(override)]))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{steps: 2}", "is not JSON"), ('["steps", 2]', "expected a JSON object of settings, got list"), ("", "not JSON")],
)
def test_a_pipeline_parameter_of_settings_must_be_a_json_object(text, reason):
    assert config_io.json_object('{"augmentation.enabled": true}', "mixture_config") == {"augmentation.enabled": True}
    with pytest.raises(ConfigError, match=f"^mixture_config: .*{reason}"):
        config_io.json_object(text, "mixture_config")
