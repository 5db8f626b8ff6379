"""The appliance's local OCI registry (Debian docker-registry): config, serving, seeding."""
