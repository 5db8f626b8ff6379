"""``stella-agent``: the shell that runs on each Docker host of an estate (docs/agent-protocol.md).

It imports ``kit`` (the protocol, defined once in ``kit.agentproto``) and ``clisupport``
only. This slice registers an agent and shows its state; polling for tasks, heartbeats and
leases come with the appliance's mutual-TLS listener.
"""
