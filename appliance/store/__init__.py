"""The appliance store: SQLite (appliance.store.db) and the content store (appliance.store.blobs)."""
