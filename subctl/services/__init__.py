"""Business rules over a ``RecordStore`` and a ``Workspace``. No typer or rich imports here."""
