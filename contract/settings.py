"""Settings: one strict loader from TOML (and environment variables) to typed options.

Every file the service reads (callassist.toml, the intents and rules files, and
whatever comes next) is described by a tree of frozen dataclasses. `load` reads a
file into one; `convert` checks a table already in hand. Both refuse, naming the
source and the key path (`rule[2].speaker`; list positions count from 0):

- keys that name no field, at any depth (nested dataclasses, lists, tuples and
  dicts of them), with the closest field name as a hint;
- values of the wrong type: no int from 8765.9, no str from 5, no bool from 1;
- enum values outside the enum ("'caller' is not one of customer, agent");
- whatever a dataclass's `__post_init__` refuses with a ValueError or TypeError.

Environment variables are strings: `from_environment` maps PREFIX_SECTION_KEY onto
the same tree (nested sections join the same way: PREFIX_STREAMING_VAD_THRESHOLD),
parsing numbers and enums strictly, booleans from true/false, yes/no, on/off, 1/0
(any case), lists from comma-separated values, and "" as None where a field may be
None. A variable with the prefix that names no setting is refused by name unless it
is exempt.

`layered` stacks tables (defaults < file < environment < flags, say): each layer is
checked alone, so an error names the layer it came from; later layers win key by key.

`contract` is the lowest layer: this module imports only the stdlib and msgspec.
Errors are `SettingsError`; callers in higher packages pass their own subclass as
`error=` so a bad file surfaces in their package's hierarchy.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import re
import tomllib
import types
import typing
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import msgspec

T = TypeVar("T")
DecHook = Callable[[type, Any], Any]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_MSGSPEC_ERROR = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.S)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class SettingsError(ValueError):
    """A settings file or variable that cannot be used. The message is one line,
    `source: key: problem`; `source` names the file or variable, `key` the key path
    inside it ("" when the problem is the source as a whole)."""

    def __init__(self, message: str, *, source: str = "", key: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.key = key

    @classmethod
    def at(cls, source: str, key: str, problem: str) -> Self:
        where = f"{source}: {key}" if key else source
        return cls(f"{where}: {problem}", source=source, key=key)


ErrorType = type[SettingsError]


# --- files ------------------------------------------------------------------------------
def read_toml(path: Path, *, error: ErrorType = SettingsError) -> dict[str, Any]:
    """The file's table; an unreadable file or bad TOML is an `error` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error.at(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error.at(str(path), "", f"not UTF-8 text: {exc.reason}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error.at(str(path), "", f"not valid TOML: {exc}") from None


def load(
    path: Path, into: type[T], *, error: ErrorType = SettingsError, dec_hook: DecHook | None = None
) -> T:
    """Reads a TOML file into the dataclass `into`, strictly (see the module docstring)."""
    return convert(
        read_toml(path, error=error), into, source=str(path), error=error, dec_hook=dec_hook
    )


def convert(
    table: Mapping[str, Any],
    into: type[T],
    *,
    source: str,
    error: ErrorType = SettingsError,
    dec_hook: DecHook | None = None,
) -> T:
    """`table` as an `into`: unknown keys, wrong types and refused values are an `error`
    naming `source` and the key path. `dec_hook(type, value)` builds types msgspec does
    not know (a ValueError or TypeError from it is refused at its key, too)."""
    unknown = list(_unknown_keys(table, into, ""))
    if unknown:
        problems = "; ".join(f"{key}: unknown key{hint}" for key, hint in unknown)
        raise error(f"{source}: {problems}", source=source, key=unknown[0][0])
    try:
        return msgspec.convert(table, into, strict=True, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        key, problem = _explain(str(exc), into)
        raise error.at(source, key, problem) from None


def layered(
    into: type[T],
    layers: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    error: ErrorType = SettingsError,
    dec_hook: DecHook | None = None,
) -> T:
    """`into` from (source, table) layers, lowest first: each layer is checked alone
    (an error names its source), then later layers win key by key over earlier ones."""
    merged: dict[str, Any] = {}
    for source, table in layers:
        convert(table, into, source=source, error=error, dec_hook=dec_hook)
        merged = merge(merged, table)
    sources = " < ".join(source for source, _ in layers) or "defaults"
    return convert(merged, into, source=sources, error=error, dec_hook=dec_hook)


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """A new table: `base` with `overlay` on top, tables merged key by key."""
    merged = dict(base)
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = merge(below, value)
        else:
            merged[key] = value
    return merged


def refuse_duplicates(
    names: Sequence[str], *, source: str, key: str, error: ErrorType = SettingsError
) -> None:
    """`names[i]` is the name of `key[i]` (e.g. each [[rule]]); a name used twice is an error."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            problem = f"{name!r} is already the name of {key}[{first[name]}]"
            raise error.at(source, f"{key}[{i}].name", problem)
        first[name] = i


# --- environment variables --------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class EnvSetting:
    """The setting one environment variable sets."""

    path: tuple[str, ...]  # ("streaming", "vad", "threshold")
    kind: Any  # its type

    @property
    def key(self) -> str:
        return ".".join(self.path)


def environment_variables(into: type, prefix: str) -> dict[str, EnvSetting]:
    """Every variable that sets a leaf of `into`: PREFIX_SECTION_KEY, upper case."""
    return _environment_variables(into, prefix.upper())


def from_environment(
    into: type,
    environ: Mapping[str, str],
    prefix: str,
    *,
    exempt: Collection[str] = (),
    error: ErrorType = SettingsError,
) -> dict[str, Any]:
    """A table of the settings `environ` sets (typed values). Variables starting with
    PREFIX_ that name no setting are refused by name unless listed in `exempt`."""
    settings = environment_variables(into, prefix)
    table: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(f"{prefix.upper()}_") or name in exempt:
            continue
        setting = settings.get(name)
        if setting is None:
            close = difflib.get_close_matches(name, list(settings), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise error.at(name, "", f"names no setting{hint}")
        node = table
        for part in setting.path[:-1]:
            node = node.setdefault(part, {})
        node[setting.path[-1]] = _parse_variable(environ[name], setting.kind, name, error)
    return table


@functools.cache
def _environment_variables(into: type, prefix: str) -> dict[str, EnvSetting]:
    found: dict[str, EnvSetting] = {}

    def walk(cls: type, path: tuple[str, ...]) -> None:
        for name, kind in _fields(cls).items():
            if _is_dataclass(kind):
                walk(kind, (*path, name))
                continue
            variable = "_".join((prefix, *path, name)).upper()
            if variable in found:
                taken = found[variable].key
                raise TypeError(f"{variable} would set both {taken} and {'.'.join(path)}.{name}")
            found[variable] = EnvSetting((*path, name), kind)

    walk(into, ())
    return found


def _parse_variable(raw: str, kind: Any, name: str, error: ErrorType) -> Any:
    arms = _union_arms(kind)
    if raw == "" and type(None) in arms:
        return None
    target = next((arm for arm in arms if arm is not type(None)), kind)
    if target is str:
        return raw
    if target is bool:
        word = raw.strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise error.at(name, "", f"{raw!r} is not a boolean (true/false, yes/no, on/off, 1/0)")
    if typing.get_origin(target) in (tuple, list):  # a list: comma-separated
        items = [part.strip() for part in raw.split(",") if part.strip()]
        try:
            return msgspec.convert(items, target, strict=False)
        except msgspec.ValidationError:
            raise error.at(name, "", f"{raw!r} is not a valid {_type_name(target)}") from None
    if isinstance(target, type) and issubclass(target, enum.Enum):
        try:
            return target(raw)
        except ValueError:
            raise error.at(name, "", _not_one_of(repr(raw), target)) from None
    try:
        return msgspec.convert(raw, target, strict=False)
    except msgspec.ValidationError:
        raise error.at(name, "", f"{raw!r} is not a valid {_type_name(target)}") from None


# --- checking tables against types --------------------------------------------------------
def _unknown_keys(value: Any, kind: Any, path: str) -> Iterator[tuple[str, str]]:
    """(key path, hint) for each key in `value` that no field of `kind` has, at any depth."""
    for arm in _union_arms(kind):
        if _is_dataclass(arm) and isinstance(value, Mapping):
            fields = _fields(arm)
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if key in fields:
                    yield from _unknown_keys(item, fields[key], where)
                else:
                    close = difflib.get_close_matches(str(key), list(fields), n=1)
                    yield where, f" (did you mean {close[0]}?)" if close else ""
            return
        origin, args = typing.get_origin(arm), typing.get_args(arm)
        if origin in (list, tuple, set, frozenset, Sequence) and isinstance(value, list):
            fixed = origin is tuple and (len(args) != 2 or args[1] is not Ellipsis)
            for i, item in enumerate(value):
                item_kind = (args[i] if i < len(args) else Any) if fixed else args[0]
                yield from _unknown_keys(item, item_kind, f"{path}[{i}]")
            return
        if origin in (dict, Mapping) and isinstance(value, Mapping) and len(args) == 2:
            for key, item in value.items():
                yield from _unknown_keys(item, args[1], f"{path}.{key}" if path else str(key))
            return


def _explain(message: str, into: type) -> tuple[str, str]:
    """msgspec's "Expected `int`, got `float` - at `$.server.port`" as a key path and a problem."""
    found = _MSGSPEC_ERROR.match(message)
    problem, path = (found["problem"], found["path"]) if found else (message, "")
    key = path.lstrip(".")
    invalid = re.fullmatch(r"Invalid enum value (.+)", problem)
    target = _type_at(into, path)
    if invalid and isinstance(target, type) and issubclass(target, enum.Enum):
        return key, _not_one_of(invalid[1], target)
    missing = re.fullmatch(r"Object missing required field `(.+)`", problem)
    if missing:
        return key, f"missing required key {missing[1]!r}"
    problem = problem.replace("`object`", "`table`").replace("`", "")
    return key, problem[:1].lower() + problem[1:]


def _type_at(into: type, path: str) -> Any:
    """The type a msgspec error path ("$.rule[2].speaker" without the $) points at."""
    kind: Any = into
    for field_name, index in _PATH_PART.findall(path):
        arms = [arm for arm in _union_arms(kind) if arm is not type(None)]
        kind = arms[0] if len(arms) == 1 else kind
        if field_name and _is_dataclass(kind):
            kind = _fields(kind).get(field_name, Any)
        elif field_name and typing.get_origin(kind) in (dict, Mapping):
            kind = typing.get_args(kind)[1]
        elif index:
            args = typing.get_args(kind)
            fixed = typing.get_origin(kind) is tuple and (len(args) != 2 or args[1] is not ...)
            kind = (args[int(index)] if int(index) < len(args) else Any) if fixed else args[0]
        else:
            return Any
    arms = [arm for arm in _union_arms(kind) if arm is not type(None)]
    return arms[0] if len(arms) == 1 else kind


def _not_one_of(shown: str, kind: type[enum.Enum]) -> str:
    return f"{shown} is not one of {', '.join(str(member.value) for member in kind)}"


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_dataclass(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _union_arms(kind: Any) -> tuple[Any, ...]:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind)
