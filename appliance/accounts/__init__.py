"""Accounts of the service (docs/service.md "Accounts"): console passwords, sessions, API
tokens and the rate limit of failed logins — appliance functions, called alike by the CLI
(``stella user passwd``, ``stella token``) and the HTTP face (``appliance.web.auth``).

Every login, logout, failed or refused login, password change and token creation or
revocation is an audit event, appended in the transaction that makes the change.
"""
