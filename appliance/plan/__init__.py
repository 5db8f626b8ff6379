"""``stella plan``: what importing a kit would change, computed on a scratch copy (docs/appliance.md)."""
