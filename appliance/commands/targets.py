"""``stella target add | list | show | remove | settings``: where releases are deployed (docs/deploy.md)."""

from __future__ import annotations

import click

from appliance import environments, users
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.deploy import targets as store
from clisupport import emit_json, handle_errors


@click.group("target")
def target() -> None:
    """Deploy targets: a Docker engine and a Compose project in one environment."""


@target.command("add")
@click.argument("name")
@click.option("--env", "env_name", required=True, help="The environment it belongs to.")
@click.option("--docker", "docker_url", default=None, help="The engine: unix:///var/run/docker.sock, tcp://…")
@click.option("--swarm", "swarm_url", default=None, metavar="URL",
              help="Instead of --docker: a Swarm manager's engine; the release is deployed as a stack "
                   "(docker stack deploy; --project names the stack).")
@click.option("--agent-labels", default=None, metavar="KEY=VALUE,…",
              help="Instead of --docker: every ready agent carrying these labels is a host of the target "
                   "(stella-agent on each host); --env-file is then a file on each host.")
@click.option("--project", default=None, help="Compose project (or Swarm stack) name (default: the target name).")
@click.option("--env-file", default=None, type=click.Path(dir_okay=False),
              help="File on the appliance with the values of ${VAR} references (compose --env-file).")
@click.option("--registry", default=None, metavar="HOST:PORT",
              help="The appliance registry as this host reaches it (default: the configured address).")
@as_option
@home_option
@json_option
def add(name: str, env_name: str, docker_url: str | None, swarm_url: str | None, agent_labels: str | None,
        project: str | None, env_file: str | None, registry: str | None, as_user: str | None, home: str | None,
        as_json: bool) -> None:
    """Register a target (admin role)."""
    if [docker_url, swarm_url, agent_labels].count(None) != 2:
        raise click.UsageError("give the target's engine: --docker URL, --swarm URL for a Swarm manager, "
                               "or --agent-labels KEY=VALUE,… for the hosts of agents")
    with handle_errors("stella target add"), opened(home) as (_h, db):
        actor = users.acting(db, as_user, "admin")
        from pathlib import Path
        path = str(Path(env_file).absolute()) if env_file else None
        if agent_labels is not None:
            from appliance.agents.tokens import parse_labels
            # an agent target's env file is a file on each host (relative: to the agent's project folder)
            t = store.agent_target(name, env_name, parse_labels(agent_labels), project or name.replace(".", "-"),
                                   env_file, registry)
        else:
            t = store.Target(name, env_name, str(docker_url or swarm_url), project or name.replace(".", "-"),
                             path, registry, kind="swarm" if swarm_url else "compose")
        t = store.add(db, t, actor.name)
        if as_json:
            emit_json(t.to_dict())
        else:
            click.echo(f"target {t.name} ({t.environment}): {t.docker}, "
                       + (f"swarm stack {t.project}" if t.kind == "swarm" else f"project {t.project}"))


@target.command("list")
@click.option("--env", "env_name", default=None)
@home_option
@json_option
def list_(env_name: str | None, home: str | None, as_json: bool) -> None:
    """Every target (optionally of one environment)."""
    with handle_errors("stella target list"), opened(home) as (_h, db):
        if env_name is not None:
            environments.get(db, env_name)          # an unknown environment is an error, not "none"
        found = store.listing(db, env_name)
        if not found and not as_json:
            click.echo("no targets (stella target add NAME --env ENV --docker URL)")
        from appliance.deploy import agenthost
        hosts = {t.name: agenthost.describe(db, t) for t in found if t.kind == "agents"}
        if as_json:
            emit_json([{**t.to_dict(), **({"agents": hosts[t.name]} if t.name in hosts else {})} for t in found])
            return
        for t in found:
            click.echo(f"{t.name:<20} {t.environment:<8} {t.docker}  "
                       f"{'swarm stack' if t.kind == 'swarm' else 'project'} {t.project}"
                       f"{'  env-file ' + t.env_file if t.env_file else ''}"
                       + (f"  agents: {_agents(hosts[t.name])}" if t.name in hosts else ""))


def _agents(found: list[dict[str, object]]) -> str:
    return ", ".join(f"{a['agent']} ({a['state']})" for a in found) or "none selected"


@target.command("show")
@click.argument("name")
@home_option
@json_option
def show(name: str, home: str | None, as_json: bool) -> None:
    """One target: its engine and project, the release running there and, for blue-green, the live colour."""
    from appliance.deploy import bluegreen
    with handle_errors("stella target show"), opened(home) as (_h, db):
        t = store.get(db, name)
        doc = bluegreen.describe(db, t)
        if t.kind == "agents":          # the hosts it selects now, with their state
            from appliance.deploy import agenthost
            doc["agents"] = agenthost.describe(db, t)
        if as_json:
            emit_json(doc)
            return
        click.echo(f"target {doc['name']} ({doc['environment']}): {doc['docker']}, project {doc['project']}")
        if "agents" in doc:
            click.echo(f"agents: {_agents(doc['agents'])}")
        if doc["release"] is None:
            click.echo("nothing deployed yet")
        else:
            click.echo(f"running {doc['release']} (deployment {doc['deployment']}, {doc['deployedAt']}, "
                       f"{doc['strategy']})")
        bg = doc["blueGreen"]
        if doc["liveColour"] is not None:
            port = f", port {bg['ports'][doc['liveColour']]}" if bg and "ports" in bg else ""
            click.echo(f"live colour: {doc['liveColour']} (project {doc['liveProject']}{port})")
        if bg and "problem" in bg:
            click.echo(f"blue-green set-up: {bg['problem']}")
        elif bg:
            click.echo(f"blue-green: blue port {bg['ports']['blue']}, green port {bg['ports']['green']}, "
                       f"upstream file {bg['upstreamFile']}")


@target.command("remove")
@click.argument("name")
@as_option
@home_option
def remove(name: str, as_user: str | None, home: str | None) -> None:
    """Forget a target (admin); what runs there is left alone."""
    with handle_errors("stella target remove"), opened(home) as (_h, db):
        store.remove(db, name, users.acting(db, as_user, "admin").name)
        click.echo(f"target {name} removed")


@target.command("settings")
@click.argument("env_name", metavar="ENV")
@click.option("--health-timeout", type=click.IntRange(1, 86400), default=None,
              help="Seconds every service has to become healthy.")
@click.option("--auto-deploy/--no-auto-deploy", default=None,
              help="Deploy at once when an approval makes a promotion approved (needs --deploy-as).")
@click.option("--deploy-as", default=None, metavar="USER",
              help="The deployer identity auto-deploy acts as (a user with the deployer role).")
@as_option
@home_option
@json_option
def settings(env_name: str, health_timeout: int | None, auto_deploy: bool | None, deploy_as: str | None,
             as_user: str | None, home: str | None, as_json: bool) -> None:
    """Show or change an environment's deploy settings (changing needs admin)."""
    with handle_errors("stella target settings"), opened(home) as (_h, db):
        environments.get(db, env_name)
        now_ = store.settings(db, env_name)
        if health_timeout is not None or auto_deploy is not None or deploy_as is not None:
            actor = users.acting(db, as_user, "admin")
            now_ = store.save_settings(db, store.DeploySettings(
                env_name, now_.health_timeout if health_timeout is None else health_timeout,
                now_.auto_deploy if auto_deploy is None else auto_deploy,
                now_.deploy_as if deploy_as is None else deploy_as), actor.name)
        if as_json:
            emit_json(now_.to_dict())
        else:
            auto = f"on, as {now_.deploy_as}" if now_.auto_deploy else "off"
            click.echo(f"{env_name}: health timeout {now_.health_timeout}s, auto-deploy {auto}")
