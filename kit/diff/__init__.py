"""What changes between two kits, or between an appliance's state and a kit (docs/kit-format.md, "Diff")."""

from kit.diff.compare import KitDiff, diff
from kit.diff.render import lines
from kit.diff.view import KitView, opened, read_view

__all__ = ["KitDiff", "KitView", "diff", "lines", "opened", "read_view"]
