"""Deployment formats both sides read: the Compose lock file and the version sticker."""
