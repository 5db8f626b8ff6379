"""``stella workflow validate | set | show``: workflow templates (docs/workflows.md)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
import yaml

from appliance import users, workflows
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from clisupport import emit_json, fail, handle_errors
from kit.errors import InvalidWorkflow
from kit.inputfile import read_file
from kit.workflow import yamlio
from kit.workflow.load import check, from_doc

PROG = "stella workflow"
FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.group("workflow")
def workflow() -> None:
    """Workflow templates: the DAG of steps a promotion to an environment runs."""


def _read(path: Path) -> bytes:
    """The template file: a regular file of at most 256 KiB (kit/inputfile.py).

    Raises:
        SpecialFile: a FIFO, device, socket or folder (not read).
        InputTooLarge: larger than a template may be.
        KitIOError: missing or unreadable.
    """
    return read_file(path, "workflow template", limit=yamlio.MAX_BYTES)


def _print_problems(file: Path, problems: Iterable[tuple[str, str]], err: bool) -> None:
    for path, message in problems:
        click.echo(f"{file}: {path}: {message}", err=err)


@workflow.command("validate")
@click.argument("file", type=FILE)
@json_option
def validate(file: Path, as_json: bool) -> None:
    """Check FILE: exit 0, or 3 with every problem's path, one per line."""
    with handle_errors(f"{PROG} validate"):
        doc, problems = check(_read(file))
        template = None if problems else from_doc(doc, str(file))
        if as_json:
            emit_json({"file": str(file), "valid": not problems,
                       "name": template.name if template else None,
                       "digest": template.digest if template else None,
                       "problems": [{"path": p.path, "message": p.message} for p in problems]})
        elif template:
            click.echo(f"{file}: valid workflow {template.name} ({len(template.steps)} steps) {template.digest}")
        else:
            _print_problems(file, ((p.path, p.message) for p in problems), err=False)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            fail(InvalidWorkflow(f"{file}: {problems[0]}{more}"), f"{PROG} validate")


@workflow.command("set")
@click.argument("environment")
@click.argument("file", type=FILE)
@as_option
@home_option
def set_(environment: str, file: Path, as_user: str | None, home: str | None) -> None:
    """Make FILE the template ENVIRONMENT runs (admin role; audited)."""
    with handle_errors(f"{PROG} set"), opened(home) as (_h, db):
        actor = users.acting(db, as_user, "admin")
        try:
            result = workflows.set_from_file(db, environment, _read(file), str(file), actor)
        except InvalidWorkflow as exc:
            _print_problems(file, exc.problems, err=True)
            raise
        click.echo(f"{environment} runs workflow {result.template.name} {result.template.digest} "
                   f"(set by {result.set_by} at {result.set_at})")


@workflow.command("show")
@click.argument("environment")
@home_option
@json_option
def show(environment: str, home: str | None, as_json: bool) -> None:
    """The template ENVIRONMENT runs (the default when none was set), its digest and origin."""
    with handle_errors(f"{PROG} show"), opened(home, read_only=True) as (_h, db):
        current = workflows.in_force(db, environment)
        if as_json:
            emit_json(current.summary())
            return
        t = current.template
        origin = ("default (none set)" if current.origin == "default" else
                  f"{current.origin} {current.origin_ref}, set by {current.set_by} at {current.set_at}")
        click.echo(f"# environment {environment}: workflow {t.name} {t.digest}")
        click.echo(f"# origin: {origin}")
        click.echo(yaml.safe_dump(t.to_doc(), sort_keys=False, allow_unicode=True, width=120), nl=False)
