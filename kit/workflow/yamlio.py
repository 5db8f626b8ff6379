"""Reading a workflow template's YAML as hostile input: bounded size and depth, no aliases
(no "billion laughs"), no duplicate or non-string keys, timestamps kept as text.

Two passes with libyaml's parser (the pure-Python one is ~8× slower): the event stream
is checked first (aliases, depth), then the document is built.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32

_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlProblem(ValueError):
    """The text is not a YAML document we read."""


class _Loader(_BASE):  # type: ignore[valid-type,misc]  # CSafeLoader when libyaml is there, else SafeLoader
    """A safe loader that refuses duplicate and non-string keys, and keeps timestamps as text."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is not a string",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


# Timestamps stay text: a date-like string must not turn into a datetime behind the user's back.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _at(event: yaml.Event, problem: str) -> YamlProblem:
    mark = event.start_mark
    at = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    return YamlProblem(f"not valid YAML: {at}{problem}")


def _check_events(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_BASE):
        if isinstance(event, yaml.AliasEvent):
            raise _at(event, "aliases (*name) are not allowed")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _at(event, f"nested deeper than {MAX_DEPTH}")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def read(data: bytes) -> Any:
    """The YAML document in *data*.

    Raises:
        YamlProblem: too large, not UTF-8, not YAML, or using what templates may not.
    """
    if len(data) > MAX_BYTES:
        raise YamlProblem(f"larger than {MAX_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not UTF-8 text (byte {exc.start})") from None
    try:
        _check_events(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise YamlProblem(f"not valid YAML: {at}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {str(exc)[:200]}") from None
