"""The lifecycle services ask the record store's capabilities before a job is created
(``lifecycle.build_action``): what HubSpot's store cannot carry out is refused up front, a flag
with exit 2 naming it, a verb with exit 5; a local store takes them all."""

from __future__ import annotations

import datetime as dt

import pytest

from subctl.errors import InvalidState, SubctlError, UsageError
from subctl.schema import standard_registry
from subctl.services.lifecycle import build_action
from subctl.store.base import LOCAL
from subctl.store.http.records import HUBSPOT

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("verb", "options", "kind", "code", "message"),
    [
        ("pay", {}, InvalidState, 5,
         "pay records a payment, and HubSpot has no endpoint for that "
         "(on a remote HubSpot profile)"),
        ("cancel", {"refund": "unused"}, UsageError, 2,
         "refund: HubSpot has no endpoint for refunds (on a remote HubSpot profile)"),
        ("cancel", {"refund_pending": True}, UsageError, 2,
         "refund_pending: HubSpot has no endpoint for refunds (on a remote HubSpot profile)"),
        ("pause", {"resume_on": "+30d"}, UsageError, 2,
         "resume_on: HubSpot's pause takes no resume date (on a remote HubSpot profile)"),
        ("update", {"assignments": ["status=past_due"]}, UsageError, 2,
         "set status=…: HubSpot sets a subscription's status by itself "
         "(on a remote HubSpot profile)"),
    ],
)  # fmt: skip
def test_hubspots_store_refuses_before_a_job_and_a_local_one_takes_it(
    verb: str, options: dict[str, object], kind: type[SubctlError], code: int, message: str
) -> None:
    registry = standard_registry()
    with pytest.raises(kind) as caught:
        build_action(verb, registry=registry, today=TODAY, capabilities=HUBSPOT, **options)  # type: ignore[arg-type]
    assert type(caught.value) is kind and caught.value.exit_code == code
    assert caught.value.message == message  # in the services' terms (the CLI words --flags)
    build_action(verb, registry=registry, today=TODAY, capabilities=LOCAL, **options)  # type: ignore[arg-type]
