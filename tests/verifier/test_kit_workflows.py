"""``stella-verify kit`` on kits carrying workflow templates: accepted, and each template checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kit.crypto import Signer
from kit.workflow.carried import MEDIA_TYPE
from kit.workflow.load import load
from tests.appliance.helpers import files_v1, kit
from tests.appliance.workflows.test_workflow_cli import BAD, CANARY
from verifier.cli import cli


def verify(path: Path, trust: Path, *more: str) -> Result:
    return CliRunner().invoke(cli, ["kit", str(path), "--trust", str(trust), "--no-progress", *more])


def test_a_kit_with_templates_verifies_and_says_which(tmp_path: Path, signer: Signer, trust_file: Path) -> None:
    k = kit(tmp_path / "v1.stella-kit", {**files_v1(), "workflows/prod.workflow.yaml": CANARY}, [signer],
            media={"workflows": MEDIA_TYPE})
    result = verify(k.path, trust_file)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK {k.path}")
    doc = json.loads(verify(k.path, trust_file, "--json").stdout)
    (check,) = [c for c in doc["checks"] if c["check"] == "workflows"]
    assert check["ok"] and f"prod (prod-canary {load(CANARY, 'c').digest})" in check["detail"]


@pytest.mark.parametrize(("path", "data", "message"), [
    ("workflows/prod.workflow.yaml", BAD,
     "invalid-workflow: kit entry workflows/prod.workflow.yaml: steps[1].needs[1]: unknown step 'gates2'"),
    ("workflows/Prod Env.workflow.yaml", CANARY,
     "invalid-workflow: kit entry workflows/Prod Env.workflow.yaml: not workflows/<environment>.workflow.yaml"),
    ("workflows/prod.workflow.yaml", b"x" * (256 * 1024 + 1),
     "invalid-workflow: kit entry workflows/prod.workflow.yaml: (file): larger than 256 KiB"),
])
def test_a_signed_kit_with_a_bad_template_fails(tmp_path: Path, signer: Signer, trust_file: Path,
                                               path: str, data: bytes, message: str) -> None:
    k = kit(tmp_path / "bad.stella-kit", {**files_v1(), path: data}, [signer])
    result = verify(k.path, trust_file)
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    doc = json.loads(verify(k.path, trust_file, "--json").stdout)
    assert doc["verified"] is False and doc["error"]["kind"] == "invalid-workflow"
    assert doc["error"]["entry"] == path
    assert [c for c in doc["checks"] if c["check"] == "workflows"][0]["ok"] is False
