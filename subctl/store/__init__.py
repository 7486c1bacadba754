"""Stores: where subscriptions live. ``base.RecordStore`` and ``base.Workspace`` are the
protocols; ``sql`` serves local (SQLite) and team (PostgreSQL) workspaces."""
