"""Stores: where subscriptions live. ``base.Store`` is the protocol; ``sql.SqlStore`` serves local
(SQLite) and team (PostgreSQL) workspaces."""
