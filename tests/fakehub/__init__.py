"""A fake HubSpot CRM API for subctl's remote profile tests (issue #14): ``FakeHubSpot``."""

from tests.fakehub.app import FakeHubSpot, Logged, error

__all__ = ["FakeHubSpot", "Logged", "error"]
