"""Error kinds are classes (docs/adr/0007-error-kinds-are-classes.md).

The printed names and exit codes below were collected from the code before kinds became
classes (every ``kind="…"`` raise site and every class's ``kind``/``exit_code``); scripts
rely on them, so a change here is a change of the documented interface (docs/cli.md).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit import exitcodes
from kit.errors import CATEGORIES, KitError, NotAKit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kit", "clisupport", "bundler", "verifier", "appliance")
sys.path.insert(0, str(ROOT / "scripts"))
import errordocs  # noqa: E402

# kind -> the exit codes it is printed with (two codes: two classes, two meanings)
PINNED: dict[str, set[int]] = {
    # refused (1)
    "already-approved": {1}, "bad-header": {1}, "bad-padding": {1}, "bad-signature": {1}, "base-mismatch": {1},
    "base-missing": {1},
    "blocked": {1}, "corrupt": {1}, "deploy-failed": {1}, "digest-mismatch": {1}, "entry-not-in-index": {1},
    "expired": {1}, "expired-root": {1}, "kit-changed": {1}, "manifest-mismatch": {1},
    "missing-entry": {1}, "missing-role": {1}, "no-comment": {1}, "no-deploy-as": {1}, "no-reason": {1},
    "no-user": {1}, "not-a-regular-file": {1}, "out-of-order": {1}, "path-traversal": {1},
    "platform-not-found": {1}, "root-chain-gap": {1}, "separation-of-duties": {1}, "size-mismatch": {1},
    "tampered-manifest": {1}, "threshold-not-met": {1}, "trailing-garbage": {1}, "truncated": {1},
    "untrusted-key": {1}, "verification-failed": {1}, "wrong-channel": {1}, "wrong-payload-type": {1},
    # usage (2)
    "bad-reference": {2}, "missing-input": {2}, "no-decision": {2}, "no-deployment": {2},
    "no-previous-release": {2}, "not-deployed": {2}, "not-initialised": {2}, "unknown-decision": {2},
    "unknown-deployment": {2}, "unknown-environment": {2}, "unknown-job": {2}, "unknown-promotion": {2},
    "unknown-release": {2}, "unknown-target": {2}, "unknown-user": {2}, "unknown-window": {2},
    "usage": {2},   # click's usage errors, one line (clisupport.main)
    "engine-unavailable": {4},   # regopy cannot start (ulimit -v): an error, never a verdict
    "trust-changed": {1},        # the root changed under an import (trust update takes the import lock)
    "damaged-home": {4},         # stella.db lost, emptied or truncated next to its key: refused, not re-created
    # malformed (3)
    "bad-compose-template": {3}, "bad-docker-url": {3}, "bad-document": {3}, "bad-duration": {3},
    "bad-input": {3}, "bad-key": {3}, "bad-layer": {3}, "bad-name": {3}, "bad-package-db": {3},
    "bad-release": {3}, "bad-role": {3},
    "bad-rrule": {3}, "bad-spec": {3}, "bad-timeout": {3}, "bad-timezone": {3}, "bad-window": {3},
    "image-not-imported": {3}, "image-not-in-release": {3}, "input-digest-mismatch": {3}, "lock-changed": {3},
    "invalid-workflow": {3},
    "malformed": {3}, "malformed-envelope": {3}, "malformed-payload": {3}, "no-compose-template": {3},
    "no-targets": {3}, "not-a-kit": {3}, "not-a-sticker": {3}, "not-a-trust-root": {3},
    "not-an-evidence-packet": {3}, "not-an-import-record": {3}, "registry-error": {3}, "schema": {3},
    "unknown-version": {3}, "unsorted-index": {3}, "unsupported-media-type": {3},
    # I/O or internal (4)
    "appliance-error": {4}, "auth-failed": {4}, "bad-config": {4}, "bad-digest": {4}, "bad-key-dir": {4},
    "bad-option": {4}, "compose-failed": {4}, "engine-unreachable": {4}, "home": {4}, "input-changed": {4},
    "invalid-sbom": {4}, "invalid-version": {4}, "io-error": {4}, "missing-blob": {4}, "not-found": {4},
    "registry": {4}, "registry-down": {4}, "registry-unreachable": {4}, "sticker-unreachable": {4},
    "sticker-write": {4}, "unsupported-ecosystem": {4},
    # conflict (5)
    "already-initialised": {5}, "already-stopped": {5}, "bad-transition": {5}, "deploy-running": {5},
    "duplicate": {5}, "exists": {5}, "key-exists": {5}, "locked": {5}, "not-stopped": {5},
    "older-than-active": {5},
    # one name, two meanings
    "duplicate-entry": {1, 3}, "unsafe-path": {1, 3}, "unsigned": {1, 3},
    # added since (a new kind is added here, in the code and in the docs at once)
    "bad-listen": {3},
    "login-failed": {1}, "rate-limited": {1}, "bad-password": {3}, "unknown-token": {2},   # accounts (service)
    "plan-not-ready": {5},       # the console's import of a planned upload (appliance.jobs.import_planned)
    # a limit a kit's stream or an image exceeds (refused, 1); a file named to a command over its
    # limit (kit.inputfile: malformed, 3), and a FIFO or device named as a file
    "limit-exceeded": {1, 3}, "special-file": {3},
    "script-image-unknown": {1},  # a script step's image no kit carried (appliance/runs/script.py)
    # workflow runs (appliance/runs, docs/workflows.md "Runs")
    "unknown-run": {2}, "run-finished": {5}, "step-not-due": {5}, "no-policy-pack": {2}, "no-run-packet": {2},
    # agents (kit/agentproto, docs/agent-protocol.md)
    "bad-message": {3}, "bad-csr": {3}, "token-refused": {1}, "agent-exists": {5}, "already-registered": {5},
    "ca-mismatch": {1}, "unknown-agent": {2}, "not-registered": {2},
    "certificate-refused": {1}, "lease-refused": {5}, "agent-down": {1}, "agent-timeout": {4},
    "blue-green-not-set-up": {3},   # a blue-green deploy's target set-up (appliance/deploy/traffic.py)
    "probe-not-supported": {3},     # a deploy step's probe on agent targets (appliance/deploy/agenthost.py)
}

ROOTS = {"kit": KitError, "bundler": "bundler.errors.BundlerError", "appliance": "appliance.errors.ApplianceError"}


def _root(package: str) -> type:
    root = ROOTS[package]
    if isinstance(root, str):
        module, _, name = root.rpartition(".")
        root = getattr(importlib.import_module(module), name)
    assert isinstance(root, type)
    return root


def test_every_kind_keeps_its_name_and_exit_codes() -> None:
    found: dict[str, set[int]] = {}
    for cls in errordocs.kind_classes():
        found.setdefault(cls.kind, set()).add(cls.exit_code)
    assert found == PINNED


def test_each_kind_has_one_category_one_package_root_and_a_meaning() -> None:
    for cls in errordocs.kind_classes():
        categories = [c for c in CATEGORIES if issubclass(cls, c)]
        assert len(categories) == 1, f"{cls.__qualname__}: categories {categories}"
        assert cls.exit_code == categories[0].exit_code, cls.__qualname__
        assert issubclass(cls, _root(errordocs.package(cls))), f"{cls.__qualname__} is not under its package root"
        doc = vars(cls).get("__doc__") or ""
        assert doc.strip() and "\n" not in doc.strip(), f"{cls.__qualname__} needs a one-line docstring"


def test_exit_code_is_the_class_attribute() -> None:
    error = NotAKit("not a Stella kit", entry="x")
    assert error.exit_code == type(error).exit_code == exitcodes.MALFORMED
    assert error.one_line() == "not-a-kit: not a Stella kit (entry x)"
    with pytest.raises(TypeError):
        NotAKit("a string kind can never come back", kind="not-a-kit")  # type: ignore[call-arg]


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_no_raise_site_passes_a_kind() -> None:
    names = {c.__name__ for c in errordocs.error_classes()} | {"StellaError"}
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not any(k.arg == "kind" for k in node.keywords):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in names or name.endswith(("Error", "Refused", "Conflict", "NotFound")) or name == "__init__":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"errors built with kind=: {offenders}"


def test_every_error_class_is_in_an_error_module() -> None:
    known = set(errordocs.error_classes())
    for pkg in PACKAGES:
        module = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(module.__path__, f"{pkg}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    stray = [f"{c.__module__}.{c.__qualname__}" for c in errordocs.error_classes() if c not in known]
    assert not stray, f"add their modules to scripts/errordocs.py ERROR_MODULES: {stray}"


def test_the_docs_tables_are_generated_from_the_classes() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "errordocs.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_stale_table_is_reported_with_the_command(tmp_path: Path) -> None:
    for doc in errordocs.DOCS:
        target = tmp_path / doc
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / doc).read_text(encoding="utf-8").replace("`not-a-kit`", "`not-kit`"))
    assert sorted(errordocs.stale(tmp_path)) == sorted(errordocs.DOCS)


# --- end to end: the printed line and the exit code --------------------------------------

def _verify(kit_path: Path, trust: Path, at: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "stella-verify"), "kit", str(kit_path), "--trust",
                           str(trust), "--at", at, "--no-progress"], capture_output=True, text=True, timeout=120)


def test_not_a_kit_is_3_and_a_flipped_byte_is_digest_mismatch_1(tmp_path: Path) -> None:
    from kit.crypto import generate
    from kit.timeutil import format_time
    from tests.kit.conftest import make_root
    from tests.kit.craft import AT, raw_kit

    signer = generate("default")
    trust = tmp_path / "root.json"
    trust.write_bytes(make_root([signer], 1).envelope.to_bytes())
    bogus = tmp_path / "bogus.kit"
    bogus.write_bytes(b"not a kit at all")
    done = _verify(bogus, trust, format_time(AT))
    assert done.returncode == exitcodes.MALFORMED
    assert done.stderr.strip().splitlines()[-1].startswith(f"stella-verify: FAILED {bogus}: not-a-kit: ")

    good = raw_kit({"a.txt": b"hello\n" * 200, "b.txt": b"world\n"}, [signer])
    member = bytearray(good.members[0])
    member[600] ^= 0x01
    good.members[0] = bytes(member)
    done = _verify(good.write(tmp_path / "flipped.kit"), trust, format_time(AT))
    assert done.returncode == exitcodes.REFUSED
    line = done.stderr.strip().splitlines()[-1]
    assert ": digest-mismatch: sha256 of a.txt is " in line and line.endswith("…")


def test_conflict_is_5_and_an_unknown_promotion_is_2(tmp_path: Path) -> None:
    from appliance.cli import cli
    from kit.crypto import generate
    from tests.appliance.helpers import make_root

    trust = tmp_path / "root.json"
    trust.write_bytes(make_root([generate("default")]).envelope.to_bytes())
    home = tmp_path / "home"
    init = ["init", "--trust", str(trust), "--registry-addr", "127.0.0.1:9", "--home", str(home)]
    runner = CliRunner()
    assert runner.invoke(cli, init).exit_code == 0
    again = runner.invoke(cli, init)
    assert again.exit_code == exitcodes.CONFLICT
    assert ": error: already-initialised: " in again.output.strip().splitlines()[-1]
    shown = runner.invoke(cli, ["promotion", "show", "P-nope", "--home", str(home)])
    assert shown.exit_code == exitcodes.USAGE
    assert shown.output.strip().splitlines()[-1].endswith(
        ": error: unknown-promotion: unknown promotion 'P-nope' (stella promotion list)")


def test_sbom_write_errors_are_one_line_and_exit_4(images: object, tmp_path: Path) -> None:
    from bundler.commands.sbom import sbom

    reference = images.deb  # type: ignore[attr-defined]
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    for out in (tmp_path / "missing" / "deb.cdx.json", blocker / "deb.cdx.json"):
        result = CliRunner().invoke(sbom, [reference, "--insecure", "--out", str(out), "--created", "0"])
        assert result.exit_code == exitcodes.IO_ERROR, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"stella-bundler: error: io-error: cannot write {out}: ")
        assert not out.exists() and not list(tmp_path.glob("**/.deb.cdx.json.partial"))
