"""The display labels of associated records, once for every store: "Name (email)", "Plan × 3",
"99.00 USD succeeded (card)". (The text of a typed value is ``codec.to_text``.)

One definition per object type, used by ``view``, ``associate`` and the export's association
columns (``RecordStore.association_cells``):

- contact: ``First Last (primary e-mail)``; with every e-mail (``--all-emails``), the e-mails in
  their order, separated by ``, ``: ``Ada Lovelace (ada@x.com, ada@y.org)``. Without an e-mail
  the name alone; without a name the id.
- company: its name; with every domain (``--all-domains``), the domains in their order,
  separated by ``, ``: ``Acme Inc (acme.com, acme-app.io)`` (the name alone without a domain).
- deal, order, payment link: the name; quote: the title; invoice: the number.
- line item: ``Name × quantity``; payment: ``99.00 USD succeeded (card)``.
- feedback submission: the survey's name, with the sentiment when there is one:
  ``NPS survey (positive)``.
- custom object record: ``Name (custom object)``: ``Seat license 7 (License)``.

(An export joins the labels of several records with ``; ``: a label never holds ``;`` of its
own making.)
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from subctl.codec import money_from_storage

# Within one label, several e-mails or domains.
DETAIL_SEPARATOR = ", "


def contact_label(
    contact_id: int,
    firstname: str | None,
    lastname: str | None,
    emails: Sequence[str],
    *,
    all_emails: bool = False,
) -> str:
    """``Name (first email)``; the name alone without an e-mail, the id without a name;
    ``all_emails``: every e-mail in the parentheses."""
    name = " ".join(p for p in (firstname, lastname) if p) or str(contact_id)
    if not emails:
        return name
    return f"{name} ({DETAIL_SEPARATOR.join(emails) if all_emails else emails[0]})"


def company_label(name: str, domains: Sequence[str] = (), *, all_domains: bool = False) -> str:
    """The company's name; ``all_domains``: with every domain in parentheses."""
    if all_domains and domains:
        return f"{name} ({DETAIL_SEPARATOR.join(domains)})"
    return name


def line_item_label(name: str, quantity: int) -> str:
    return f"{name} × {quantity}"


def payment_label(amount: Decimal | float, currency: str, status: str, method: str) -> str:
    """``1500 JPY succeeded (card)``: the amount with its currency's decimals (``12.345 BHD``,
    ``99.00 USD``), never rounded."""
    return f"{money_from_storage(amount, currency)} {currency} {status} ({method})"


def feedback_label(survey: str, sentiment: str | None) -> str:
    return f"{survey} ({sentiment})" if sentiment else survey


def custom_record_label(name: str, object_name: str) -> str:
    return f"{name} ({object_name})"
