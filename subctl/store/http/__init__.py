"""The remote HubSpot profile's record store: ``client.py`` (HTTP, pacing, retries, errors),
``writes.py`` (typed operations -> endpoints); ``records.py`` (reads) and ``open_remote`` come
with ``HttpStore``."""
