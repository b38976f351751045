"""The strict settings loader on small option trees of its own: no service types."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contract import settings
from contract.settings import SettingsError


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Inner:
    threshold: float = 0.5
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Section:
    port: int = 8765
    name: str = "x"
    token: str | None = None
    colour: Colour = Colour.RED
    inner: Inner = field(default_factory=Inner)


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    colour: Colour = Colour.RED
    share: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError("share must be within 0..1")


@dataclass(frozen=True, slots=True)
class Tree:
    section: Section = field(default_factory=Section)
    item: tuple[Item, ...] = ()
    named: dict[str, Inner] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Clashing:
    vad_threshold: int = 0
    vad: Inner = field(default_factory=Inner)


class Refused(SettingsError):
    """A package's own error, as streams.ConfigError and assist.CatalogError are."""


def refused(table: dict[str, Any], match: str | None = None) -> SettingsError:
    with pytest.raises(SettingsError, match=match) as caught:
        settings.convert(table, Tree, source="test.toml")
    return caught.value


# --- files --------------------------------------------------------------------------------
def test_a_table_becomes_typed_options():
    tree = settings.convert(
        {"section": {"port": 9000, "colour": "blue", "inner": {"threshold": 1}}, "item": []},
        Tree,
        source="test.toml",
    )
    assert tree.section.port == 9000 and tree.section.colour is Colour.BLUE
    assert tree.section.inner == Inner(threshold=1.0)
    assert tree.item == () and tree.section.token is None


def test_a_float_is_no_int():
    error = refused({"section": {"port": 8765.9}}, r"^test\.toml: section\.port: expected int")
    assert error.source == "test.toml" and error.key == "section.port"
    assert str(error) == "test.toml: section.port: expected int, got float"


@pytest.mark.parametrize(
    "table, message",
    [
        ({"section": {"name": 5}}, "section.name: expected str, got int"),
        ({"section": {"inner": {"enabled": 1}}}, "section.inner.enabled: expected bool, got int"),
        ({"section": {"port": True}}, "section.port: expected int, got bool"),
        ({"section": {"port": "8765"}}, "section.port: expected int, got str"),
        ({"section": 5}, "section: expected table, got int"),
        ({"item": "x"}, "item: expected array, got str"),
    ],
)
def test_wrong_types_are_named(table, message):
    assert str(refused(table)) == f"test.toml: {message}"


def test_unknown_keys_are_refused_at_any_depth():
    table = {
        "section": {"prot": 1, "inner": {"treshold": 0.2}},
        "item": [{"name": "a"}, {"name": "b", "colour": "red", "extra": 1}],
        "named": {"one": {"enabled": False, "typo": 1}},
        "stray": 1,
    }
    error = refused(table)
    for key in ("section.prot", "section.inner.treshold", "item[1].extra", "named.one.typo"):
        assert f"{key}: unknown key" in str(error)
    assert "stray: unknown key" in str(error)
    assert "(did you mean port?)" in str(error) and "(did you mean threshold?)" in str(error)
    assert "\n" not in str(error)


def test_enum_values_list_the_choices():
    error = refused({"item": [{"name": "a"}, {"name": "b", "colour": "green"}]})
    assert str(error) == "test.toml: item[1].colour: 'green' is not one of red, blue"
    assert error.key == "item[1].colour"


def test_missing_keys_and_refused_values_are_named():
    assert str(refused({"item": [{}]})) == "test.toml: item[0]: missing required key 'name'"
    error = refused({"item": [{"name": "a", "share": 2.0}]})
    assert str(error) == "test.toml: item[0]: share must be within 0..1"


def test_a_decode_hook_builds_other_types_and_its_errors_are_placed():
    @dataclass(frozen=True, slots=True)
    class Holder:
        path: Path

    def hook(kind: type, value: Any) -> Any:
        if kind is Path and isinstance(value, str) and value:
            return Path(value)
        raise ValueError("not a path")

    assert settings.convert({"path": "a/b"}, Holder, source="s", dec_hook=hook).path == Path("a/b")
    with pytest.raises(SettingsError, match=r"^s: path: not a path$"):
        settings.convert({"path": ""}, Holder, source="s", dec_hook=hook)


def test_load_names_the_file(tmp_path: Path):
    path = tmp_path / "opts.toml"
    path.write_text("[section]\nport = 9100\n")
    assert settings.load(path, Tree).section.port == 9100
    path.write_text("[section\n")
    with pytest.raises(SettingsError, match=rf"^{path}: not valid TOML"):
        settings.load(path, Tree)
    with pytest.raises(SettingsError, match=r"missing\.toml: cannot read"):
        settings.load(tmp_path / "missing.toml", Tree)


def test_errors_come_as_the_callers_own_class(tmp_path: Path):
    path = tmp_path / "opts.toml"
    path.write_text("[section]\nport = 1.5\n")
    with pytest.raises(Refused, match=r"section\.port"):
        settings.load(path, Tree, error=Refused)
    with pytest.raises(Refused, match="PREFIX_SECTION_PORT"):
        settings.from_environment(Tree, {"PREFIX_SECTION_PORT": "x"}, "PREFIX", error=Refused)


def test_duplicate_names_are_refused():
    settings.refuse_duplicates(["a", "b"], source="r.toml", key="rule")
    with pytest.raises(SettingsError, match=r"^r\.toml: rule\[2\]\.name: 'a' is already the name"):
        settings.refuse_duplicates(["a", "b", "a"], source="r.toml", key="rule")


# --- environment ----------------------------------------------------------------------------
def test_variables_name_every_leaf_nested_sections_included():
    names = settings.environment_variables(Tree, "pre")
    assert names["PRE_SECTION_PORT"].path == ("section", "port")
    assert names["PRE_SECTION_INNER_THRESHOLD"].key == "section.inner.threshold"
    assert "PRE_SECTION_INNER" not in names


def test_two_settings_may_not_share_a_variable():
    with pytest.raises(TypeError, match="PRE_VAD_THRESHOLD"):
        settings.environment_variables(Clashing, "PRE")


def test_environment_values_are_parsed_strictly():
    environ = {
        "PRE_SECTION_PORT": "9000",
        "PRE_SECTION_COLOUR": "blue",
        "PRE_SECTION_TOKEN": "",
        "PRE_SECTION_INNER_THRESHOLD": "0.6",
        "PRE_SECTION_INNER_ENABLED": "Off",
        "OTHER": "ignored",
    }
    table = settings.from_environment(Tree, environ, "PRE")
    assert table == {
        "section": {
            "port": 9000,
            "colour": Colour.BLUE,
            "token": None,
            "inner": {"threshold": 0.6, "enabled": False},
        }
    }


@pytest.mark.parametrize("word, value", [("1", True), ("TRUE", True), ("yes", True), ("no", False)])
def test_boolean_words(word, value):
    table = settings.from_environment(Tree, {"PRE_SECTION_INNER_ENABLED": word}, "PRE")
    assert table["section"]["inner"]["enabled"] is value


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("PRE_SECTION_INNER_ENABLED", "maybe", "'maybe' is not a boolean"),
        ("PRE_SECTION_PORT", "8765.9", "'8765.9' is not a valid int"),
        ("PRE_SECTION_PORT", "", "'' is not a valid int"),
        ("PRE_SECTION_COLOUR", "green", "'green' is not one of red, blue"),
    ],
)
def test_bad_environment_values_name_the_variable(name, raw, message):
    with pytest.raises(SettingsError) as caught:
        settings.from_environment(Tree, {name: raw}, "PRE")
    assert str(caught.value).startswith(f"{name}: {message}")
    assert caught.value.source == name


def test_unknown_variables_are_refused_unless_exempt():
    with pytest.raises(SettingsError, match=r"^PRE_SECTION_PROT: names no setting \(did you mean"):
        settings.from_environment(Tree, {"PRE_SECTION_PROT": "1"}, "PRE")
    assert settings.from_environment(Tree, {"PRE_CONFIG": "x"}, "PRE", exempt={"PRE_CONFIG"}) == {}


# --- layers ----------------------------------------------------------------------------------
def test_later_layers_win_key_by_key():
    tree = settings.layered(
        Tree,
        [
            ("file.toml", {"section": {"port": 9000, "name": "file", "inner": {"threshold": 0.1}}}),
            ("environment", {"section": {"port": 9100, "inner": {"enabled": False}}}),
            ("flags", {"section": {"port": 9200}}),
        ],
    )
    assert tree.section.port == 9200
    assert tree.section.name == "file"
    assert tree.section.inner == Inner(threshold=0.1, enabled=False)
    assert settings.layered(Tree, []) == Tree()


def test_each_layer_is_checked_under_its_own_name():
    with pytest.raises(SettingsError, match=r"^flags: section\.port: expected int"):
        settings.layered(Tree, [("file.toml", {}), ("flags", {"section": {"port": 1.5}})])


def test_merge_leaves_its_inputs_alone():
    base = {"a": {"b": 1, "c": 2}}
    assert settings.merge(base, {"a": {"b": 3}, "d": 4}) == {"a": {"b": 3, "c": 2}, "d": 4}
    assert base == {"a": {"b": 1, "c": 2}}


def test_a_list_setting_comes_from_a_comma_separated_variable():
    from streams.config import load_config

    environ = {"CALLASSIST_SERVER_ALLOWED_ORIGINS": "https://crm.example.com, https://b.example"}
    config = load_config(environ=environ)
    assert config.server.allowed_origins == ("https://crm.example.com", "https://b.example")
