"""Deploying releases to Docker / Compose targets: lock files, rollout, rollback, stickers, drift."""
