"""The appliance as a service (``stella serve``): the JSON API under ``/api/v1`` and the
server-rendered console, two faces over the same appliance functions the CLI calls.

No rule lives here: roles, separation of duties, gates, state transitions, freeze and
audit events stay in ``appliance.promotions``, ``appliance.deploy`` and friends. A route
authenticates the caller, parses the request, calls one of those functions and renders
its result or its error (``errors.py``: the error classes decide the HTTP status, as they
decide the CLI's exit code).
"""
