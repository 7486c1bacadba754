"""Business rules over a ``Store``. No typer or rich imports here."""
