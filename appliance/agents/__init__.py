"""Agents on other hosts (docs/agent-protocol.md): registration tokens, the agent CA, registration,
listing and revocation. The HTTP face is ``appliance.web.agents``; the CLI is ``stella agent``."""
