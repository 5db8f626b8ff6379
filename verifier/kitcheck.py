"""Verify a kit file against a trust root chain, offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from kit.errors import InvalidWorkflow, KitError
from kit.format import KitLimits, KitReader, Manifest, ReadResult
from kit.format.delta import BaseMismatch, check_chain, verify_base
from kit.format.reader import Check
from kit.trust.root import TrustRoot, read_root_file, verify_chain
from kit.workflow.carried import TemplateSink


def load_trust(paths: Sequence[Path], at: dt.datetime) -> TrustRoot:
    """Read the trust root files and verify them as one chain; return the newest."""
    return verify_chain([read_root_file(p) for p in paths], at)


def verify_kit(kit: Path, trust_paths: Sequence[Path], at: dt.datetime, channel: str | None = None,
               limits: KitLimits = KitLimits(), progress: Callable[[int], None] | None = None,
               bases: Sequence[Path] = ()) -> ReadResult:
    """Every check on *kit*; trust problems are reported in the result like any other.

    A delta verifies alone (signatures, the entries it carries). With *bases* (the base
    kit, or the chain of bases down to a full kit, in any order) each base is verified
    completely too, and the delta must name them and inherit only what they carry.
    """
    try:
        root = load_trust(trust_paths, at)
    except KitError as exc:
        result = ReadResult(str(kit), error=exc)
        result.checks.append(Check("trust-root", False, exc.one_line()))
        return result
    sink = TemplateSink()
    result = KitReader(kit, limits=limits).verify(trust=root, at=at, channel=channel, progress=progress, sink=sink)
    result.checks.insert(0, Check("trust-root", True, f"version {root.version} {root.digest}, "
                                                      f"chain of {len(trust_paths)}"))
    if result.ok:
        _check_workflows(result, sink)
    if result.ok and bases:
        try:
            _check_bases(result, [verify_base(b, root, at, limits) for b in bases])
        except KitError as exc:
            result.error = exc
            result.checks.append(Check(exc.kind, False, exc.one_line()))
    return result


def _check_workflows(result: ReadResult, sink: TemplateSink) -> None:
    """The workflow templates the kit carries must be ones an appliance would accept
    (the same loader; an inherited template was checked with its base)."""
    assert result.manifest is not None
    try:
        found = sink.templates(result.manifest.entries)
    except InvalidWorkflow as exc:
        result.error = exc
        result.checks.append(Check("workflows", False, exc.one_line()))
        return
    if found:
        result.passed("workflows", f"{len(found)} workflow template(s) valid: "
                                   + ", ".join(f"{env} ({t.name} {t.digest})" for _, env, t in found))


def _check_bases(result: ReadResult, bases: list[ReadResult]) -> None:
    delta = result.manifest
    assert delta is not None
    if delta.base is None:
        raise BaseMismatch(f"kit {delta.name} sequence {delta.sequence} is a full kit; --base is for delta kits")
    manifests: list[Manifest] = [b.manifest for b in bases if b.manifest is not None]
    chain = check_chain(delta, manifests)
    result.passed("base", f"base chain of {len(chain) - 1} kit(s) verified down to full kit "
                          f"{chain[-1].kit_id[:19]}… (sequence {chain[-1].sequence}); "
                          f"{len(delta.inherited)} inherited entries carried by it")
