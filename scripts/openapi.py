"""Write docs/openapi.json: the OpenAPI document ``stella serve`` publishes at /api/v1/openapi.json.

Run after changing a route: ``.venv/bin/python scripts/openapi.py`` (``--check`` exits 1
when the checked-in file differs). tests/appliance/web/test_api_openapi.py compares the
file with what a real server serves.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    """The document of an app over a throwaway home (the routes do not depend on the home)."""
    sys.path.insert(0, str(ROOT))
    from appliance.home import Home
    from appliance.store.db import open_db
    from appliance.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp))
        home.make_dirs()
        open_db(home.db_path).close()
        (home.keys / "key.pem").write_text("not a key: only the routes are read\n")
        doc: dict[str, Any] = create_app(home).openapi()
        return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    text = render(document())
    if "--check" in sys.argv[1:]:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run .venv/bin/python scripts/openapi.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
