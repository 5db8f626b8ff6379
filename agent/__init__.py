"""``stella-agent``: the shell that runs on each Docker host of an estate (docs/agent-protocol.md).

It imports ``kit`` (the protocol, defined once in ``kit.agentproto``) and ``clisupport``
only: ``register``/``status`` (register.py, state.py), ``run`` (run.py: the poll loop over
channel.py, the mutual-TLS client; engine.py: the tasks against this host's Docker engine).
"""
