"""subctl: administer recurring-billing subscriptions from the terminal."""

__version__ = "0.1.0"
