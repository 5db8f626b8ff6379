"""kit.yaml: what a release engineer writes to describe a kit.

Paths are relative to the kit.yaml file, never to the working directory. Unknown keys
are errors, so a typo never silently drops an input. See docs/kit-yaml.md.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bundler.errors import SpecError
from bundler.releases import ReleaseSpec, parse_platforms, parse_releases
from bundler.sources import AdvisoryInput, parse_advisory_inputs
from bundler.sources.vex_spec import VexInput, parse_vex_inputs
from kit.inputfile import read_file
from kit.timeutil import TimeFormatError, parse_time, source_date_epoch
from kit.workflow import carried

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TOP_KEYS = {"kit", "policy", "advisories", "vex", "attachments", "releases", "registries", "platforms", "sboms",
            "workflows"}
KIT_KEYS = {"name", "channel", "sequence", "created", "expires", "annotations"}
# SBOM formats a kit can carry per image manifest, in kit order. CycloneDX and SPDX 2.3 are
# always there (release documents name both; the appliance reads the CycloneDX one);
# SPDX 3.0.1 is opt-in (docs/kit-yaml.md, docs/sbom.md).
SBOM_FORMATS = ("cyclonedx", "spdx", "spdx3")
DEFAULT_SBOMS = ("cyclonedx", "spdx")


@dataclass(frozen=True)
class KitSpec:
    path: Path                      # the kit.yaml file
    name: str
    channel: str
    sequence: int
    created: dt.datetime
    expires: dt.datetime
    policy: Path | None
    advisories: tuple[AdvisoryInput, ...]
    vex: tuple[VexInput, ...]
    attachments: tuple[Path, ...]
    annotations: dict[str, str]
    releases: tuple[ReleaseSpec, ...] = ()
    registries: dict[str, Any] | None = None
    platforms: tuple[str, ...] = ("linux/amd64",)
    sboms: tuple[str, ...] = DEFAULT_SBOMS
    workflows: tuple[tuple[str, Path], ...] = ()    # (environment, template file), sorted by environment

    @property
    def base_dir(self) -> Path:
        return self.path.parent


class _StringTimes(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as text (parsed one way only) and refuses duplicate
    keys (YAML would silently keep the last one, dropping an input)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                        node.value[i][0].start_mark)
        return super().construct_mapping(node, deep)


_StringTimes.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise SpecError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _path_list(value: Any, key: str, base: Path, where: str) -> tuple[Path, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where}: {key} must be a path or a list of paths")
    paths = []
    for item in value:
        path = (base / item)
        if not path.exists():
            raise SpecError(f"{where}: {key}: {item} does not exist (paths are relative to kit.yaml)")
        paths.append(path)
    return tuple(paths)


def _time(value: Any, key: str, where: str) -> dt.datetime:
    try:
        return parse_time(value)
    except TimeFormatError as exc:
        raise SpecError(f"{where}: kit.{key}: {exc}") from None


def load_spec(path: Path) -> KitSpec:
    """Read and check kit.yaml.

    Raises:
        SpecError: the file is not valid YAML, has unknown or missing keys, or names
            inputs that do not exist.
        KitIOError: the file cannot be read (missing, a directory, no permission).
    """
    where = str(path)
    try:     # a missing or unreadable file is an I/O error (exit 4), not a bad spec
        text = read_file(path, "kit.yaml").decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{where}: not UTF-8 text") from None
    try:
        doc = yaml.load(text, Loader=_StringTimes)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise SpecError(f"{where}: not valid YAML: nested too deeply") from None
    except ValueError as exc:     # an integer past Python's digit limit (4300 digits)
        raise SpecError(f"{where}: not valid YAML: {str(exc)[:80]}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: the top level must be a mapping")
    _unknown(set(doc), TOP_KEYS, where)
    kit = doc.get("kit")
    if not isinstance(kit, dict):
        raise SpecError(f"{where}: a 'kit:' mapping (name, channel, sequence, created, expires) is required")
    _unknown(set(kit), KIT_KEYS, f"{where}: kit")
    for key in ("name", "channel", "sequence", "expires"):
        if key not in kit:
            raise SpecError(f"{where}: kit.{key} is required")
    for key in ("name", "channel"):
        if not isinstance(kit[key], str) or not _NAME.match(kit[key]):
            raise SpecError(f"{where}: kit.{key} must be lowercase letters, digits, '.', '_' or '-' "
                            f"(at most 63), got {kit[key]!r}")
    sequence = kit["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise SpecError(f"{where}: kit.sequence must be a positive integer, got {sequence!r}")
    override = _sde(where)
    if override is None and "created" not in kit:
        raise SpecError(f"{where}: kit.created is required (or set SOURCE_DATE_EPOCH)")
    created = override or _time(kit["created"], "created", where)
    expires = _time(kit["expires"], "expires", where)
    if expires <= created:
        raise SpecError(f"{where}: kit.expires must be after created")
    annotations = kit.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in annotations.items()):
        raise SpecError(f"{where}: kit.annotations must map strings to strings")
    base = path.resolve().parent
    policy = doc.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise SpecError(f"{where}: policy must be a folder path")
    policy_path = _path_list(policy, "policy", base, where)[0] if policy else None
    if policy_path is not None and not policy_path.is_dir():
        raise SpecError(f"{where}: policy: {policy} is not a folder")
    return KitSpec(path=path.resolve(), name=kit["name"], channel=kit["channel"], sequence=sequence,
                   created=created, expires=expires, policy=policy_path,
                   advisories=parse_advisory_inputs(doc.get("advisories"), base, where),
                   vex=parse_vex_inputs(doc.get("vex"), base, where),
                   attachments=_path_list(doc.get("attachments"), "attachments", base, where),
                   annotations=annotations, releases=parse_releases(doc.get("releases"), base, where),
                   registries=_registries(doc.get("registries"), where),
                   platforms=parse_platforms(doc.get("platforms"), where),
                   sboms=_sboms(doc.get("sboms"), where),
                   workflows=_workflows(doc.get("workflows"), base, where))


def _workflows(value: Any, base: Path, where: str) -> tuple[tuple[str, Path], ...]:
    """``workflows: {prod: prod.workflow.yaml}``: each environment's template file."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise SpecError(f"{where}: workflows must map environment names to template files")
    out = []
    for env, file in value.items():
        if not isinstance(env, str) or not carried.ENVIRONMENT.match(env):
            raise SpecError(f"{where}: workflows: {env!r} is not an environment name (letters, digits and "
                            "'-', at most 63)")
        if not isinstance(file, str) or not file:
            raise SpecError(f"{where}: workflows.{env} must be the path of a template file")
        out.append((env, _path_list(file, f"workflows.{env}", base, where)[0]))
    return tuple(sorted(out))


def _sboms(value: Any, where: str) -> tuple[str, ...]:
    """``sboms: [cyclonedx, spdx, spdx3]``: which SBOM formats each image gets, in
    ``SBOM_FORMATS`` order. Absent: CycloneDX and SPDX 2.3."""
    if value is None:
        return DEFAULT_SBOMS
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: sboms must be a list of formats ({', '.join(SBOM_FORMATS)})")
    for name in value:
        if name not in SBOM_FORMATS:
            raise SpecError(f"{where}: sboms: unknown format {name!r} (allowed: {', '.join(SBOM_FORMATS)})")
    if len(set(value)) != len(value):
        raise SpecError(f"{where}: sboms: a format is listed twice")
    missing = [name for name in DEFAULT_SBOMS if name not in value]
    if missing:
        raise SpecError(f"{where}: sboms: {missing[0]!r} cannot be left out (release documents name the "
                        "CycloneDX and SPDX 2.3 SBOMs of every image)")
    return tuple(name for name in SBOM_FORMATS if name in value)


def _registries(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpecError(f"{where}: registries must map registry hosts to settings")
    return value


def _sde(where: str) -> dt.datetime | None:
    try:
        return source_date_epoch()
    except TimeFormatError as exc:
        raise SpecError(f"{where}: {exc}") from None
