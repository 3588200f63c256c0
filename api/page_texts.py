"""The status page's own labels (headings, form fields, buttons), English msgids of the ``page``
catalog; ``GET /v1/i18n/{lang}`` answers them translated, keyed by a stable name."""

from __future__ import annotations

from wismo.i18n import N_, translations

LABELS: dict[str, str] = {
    "title": N_("Track your order"),
    "skip": N_("Skip to content"),
    "heading": N_("Order tracking"),
    "lookup_heading": N_("Where is my order?"),
    "order_number": N_("Order number"),
    "order_number_hint": N_("As shown in your order confirmation, e.g. 100042"),
    "contact": N_("E-mail address or delivery postcode"),
    "contact_hint": N_("The e-mail you ordered with, or the postcode we deliver to"),
    "track_order": N_("Track order"),
    "parcel_heading": N_("Track a parcel by its tracking number"),
    "tracking_number": N_("Tracking number"),
    "tracking_number_hint": N_(
        "From the carrier's e-mail or text message, e.g. 1Z999AA10123456784"
    ),
    "track_parcel": N_("Track parcel"),
    "lookup_order": N_("Look up an order instead"),
    "parcel": N_("Parcel"),
    "another_order": N_("Track another order"),
    "order": N_("Order"),
    "connecting": N_("Connecting…"),
    "language": N_("Language"),
    "signed_by": N_("Signed for by %(name)s"),
    "proof_of_delivery": N_("Proof of delivery"),
    "delivery_address": N_("Delivery address"),
    "track_at_carrier": N_("Track on the carrier's website"),
    "support": N_("Need help? Contact us"),
    "not_found": N_("We could not find that order. Check the number and try again."),
}


def page_labels(lang: str) -> dict[str, str]:
    """The page's labels in ``lang`` (English where a catalog lacks one)."""
    gettext = translations("page", lang).gettext
    return {key: gettext(text) for key, text in LABELS.items()}
