"""What the two expression languages of a template share: tokens, the tokenizer loop with
its limits, and the parser's cursor (look, take, nest with a depth limit).

The ``if`` language (:mod:`kit.workflow.expr`) and the probe language
(:mod:`kit.workflow.probeexpr`) differ in their tokens and grammar, not in how a hostile
text is bounded: at most MAX_LENGTH characters, MAX_TOKENS tokens, MAX_DEPTH nesting, and
every error names its column (1-based).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

MAX_LENGTH = 1024      # characters of one expression
MAX_DEPTH = 32         # nesting of parentheses and operators
MAX_TOKENS = 256

T = TypeVar("T")


class ExprError(ValueError):
    """An expression that does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str        # a group name of the language's pattern ("str", "num", "name", "op"), or "end"
    text: str
    column: int


def tokenize(text: str, pattern: re.Pattern[str], refuse: Callable[[re.Match[str]], str | None] | None = None
             ) -> Iterator[Token]:
    """The tokens of *text* by *pattern* (its ``space`` group skipped), then an ``end`` token.
    *refuse* names a match that is a mistake (a message) or passes it (None)."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    pos = count = 0
    while pos < len(text):
        match = pattern.match(text, pos)
        if match is None:
            raise ExprError(f"unexpected character {text[pos]!r}", pos + 1)
        why = refuse(match) if refuse is not None else None
        if why is not None:
            raise ExprError(why, pos + 1)
        kind = match.lastgroup or ""
        if kind != "space":
            count += 1
            if count > MAX_TOKENS:
                raise ExprError(f"expression has more than {MAX_TOKENS} tokens", pos + 1)
            yield Token(kind, match.group(), pos + 1)
        pos = match.end()
    yield Token("end", "", len(text) + 1)


class Cursor:
    """A parser's place in its tokens, and how deep it is nested."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def nested(self, parse: Callable[[], T]) -> T:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH}", self.peek.column)
        try:
            return parse()
        finally:
            self.depth -= 1
