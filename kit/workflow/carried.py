"""Workflow templates carried in a kit: one ``workflows/<environment>.workflow.yaml`` entry each.

The bundler writes them from kit.yaml's ``workflows:`` (environment → template file), the
appliance assigns each to its environment on import, and ``stella-verify kit`` checks them:
all three name and read the entries through this module, so a path or a template one of
them accepts is accepted by the others (docs/kit-format.md, docs/workflows.md "From a kit").

A kit is signed, but its signer may still be wrong or hostile: every reader validates each
template again (``load_entry``) and never reads more than ``yamlio.MAX_BYTES`` of one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from kit.errors import InvalidWorkflow
from kit.format.manifest import Entry
from kit.workflow import yamlio
from kit.workflow.load import load
from kit.workflow.model import Template

PREFIX = "workflows/"
SUFFIX = ".workflow.yaml"
MEDIA_TYPE = "application/vnd.stella.workflow+yaml"
# The environment names an appliance accepts (letters, digits, '-'), in ASCII so that each is
# a safe kit path component; at most 63 like every other name in a kit.
ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def entry_path(environment: str) -> str:
    """The kit path of *environment*'s template."""
    return f"{PREFIX}{environment}{SUFFIX}"


def is_workflow_entry(path: str) -> bool:
    """Whether *path* lies in the kit's workflows folder (well named or not)."""
    return path.startswith(PREFIX)


def environment_of(path: str) -> str:
    """The environment a ``workflows/…`` entry is for.

    Raises:
        InvalidWorkflow: the path is not ``workflows/<environment>.workflow.yaml``.
    """
    name = path[len(PREFIX):-len(SUFFIX)] if path.startswith(PREFIX) and path.endswith(SUFFIX) else ""
    if not ENVIRONMENT.match(name):
        raise InvalidWorkflow(f"kit entry {path}: not {PREFIX}<environment>{SUFFIX} (an environment name is "
                              "letters, digits and '-', at most 63)", entry=path)
    return name


def load_entry(path: str, size: int, read: Callable[[], bytes]) -> tuple[str, Template]:
    """(environment, template) of the kit entry *path* of *size* bytes; *read* gives its bytes
    and is not called when the entry is over the template size limit.

    Raises:
        InvalidWorkflow: a badly named entry, or a template with problems (every one in
            ``problems``), the message naming the entry and the first problem's path.
    """
    environment = environment_of(path)
    if size > yamlio.MAX_BYTES:
        raise InvalidWorkflow(f"kit entry {path}: (file): larger than {yamlio.MAX_BYTES // 1024} KiB",
                              problems=(("(file)", f"larger than {yamlio.MAX_BYTES // 1024} KiB"),), entry=path)
    try:
        template = load(read(), f"kit entry {path}")
    except InvalidWorkflow as exc:
        raise InvalidWorkflow(exc.message, problems=exc.problems, entry=path) from None
    return environment, template


class TemplateSink:
    """A kit reader's sink that keeps the bytes of each verified ``workflows/`` entry (none over
    the size limit: :func:`load_entry` refuses those by their declared size), so a verifier or
    a dry run can check the templates without staging anything."""

    def __init__(self) -> None:
        self.found: dict[str, bytes] = {}

    def open(self, entry: Entry) -> _Buffer | None:
        if not is_workflow_entry(entry.path) or entry.size > yamlio.MAX_BYTES:
            return None
        return _Buffer(self, entry.path)

    def templates(self, entries: Iterable[Entry]) -> list[tuple[str, str, Template]]:
        """(entry path, environment, template) of every workflow entry among *entries* (the
        carried ones: their bytes streamed past this sink), in path order.

        Raises:
            InvalidWorkflow: as :func:`load_entry`.
        """
        out = []
        for e in sorted(entries, key=lambda e: e.path.encode("utf-8")):
            if is_workflow_entry(e.path):
                environment, template = load_entry(e.path, e.size, functools.partial(self.found.__getitem__, e.path))
                out.append((e.path, environment, template))
        return out


class _Buffer:
    def __init__(self, sink: TemplateSink, path: str) -> None:
        self.sink, self.path, self.parts = sink, path, bytearray()

    def write(self, chunk: memoryview) -> None:
        self.parts += chunk

    def close(self, verified: bool) -> None:
        if verified:       # an entry that failed its digest fails the kit; its bytes are never read
            self.sink.found[self.path] = bytes(self.parts)
