"""Write docs/schemas/workflow.schema.json from the step registry (kit.workflow.schemadoc).

    .venv/bin/python scripts/workflowschema.py          # rewrite the file
    .venv/bin/python scripts/workflowschema.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                     # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from kit.workflow.schemadoc import schema_document  # noqa: E402 - after the path is set

TARGET = ROOT / "docs" / "schemas" / "workflow.schema.json"


def render() -> str:
    return json.dumps(schema_document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run scripts/workflowschema.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
