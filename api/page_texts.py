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
    "proof_link": N_("See the carrier's proof of delivery"),
    "delivery_progress": N_("Delivery progress"),
    "done": N_("done"),
    "parcel_of": N_("Parcel %(index)s of %(total)s"),
    "your_parcel": N_("Your parcel"),
    "not_yet_known": N_("not yet known"),
    "delivered": N_("Delivered"),
    "estimated_delivery": N_("Estimated delivery"),
    "carrier": N_("Carrier"),
    "our_estimate": N_("Our estimate"),
    "going_to": N_("Going to"),
    "in_this_parcel": N_("In this parcel"),
    "item": N_("item"),
    "history": N_("History"),
    "no_scans": N_("No scans from the carrier yet."),
    "problem_banner": N_("There is a problem with your delivery"),
    "status": N_("Status"),
    "ordered": N_("Ordered"),
    "promised_by": N_("Promised by"),
    "last_updated": N_("Last updated"),
    "milestones_reached": N_("Milestones reached"),
    "items": N_("Items"),
    "preparing": N_("We are preparing your order; tracking appears here as soon as it ships."),
    "live_on": N_("Live: this page updates by itself"),
    "live_polling": N_("Checking for updates every %(seconds)s s"),
    "updated": N_("Updated"),
    "lookup_missing": N_("Please enter your order number and your e-mail address or postcode."),
    "lookup_not_found": N_(
        "We could not find an order with that number and e-mail address or postcode. "
        "Please check both and try again."
    ),
    "too_many": N_("Too many attempts. Please wait a minute and try again."),
    "went_wrong": N_("Sorry, something went wrong:"),
    "help_title": N_("Need help with this order?"),
    "your_problems": N_("Problems you reported"),
    "returns": N_("Returns"),
    "cancel_requests": N_("Cancellation requests"),
    "return_progress": N_("Return progress"),
    "which_parcel": N_("Which parcel"),
    "whole_order": N_("The whole order"),
    "report_problem": N_("Report a problem"),
    "what_went_wrong": N_("What went wrong"),
    "tell_us_more": N_("Tell us more"),
    "photo_optional": N_("Photo (optional)"),
    "send_report": N_("Send report"),
    "return_items": N_("Return items"),
    "request_return": N_("Request return"),
    "cancel_items": N_("Cancel items"),
    "cancel_hint": N_("Items we have not started preparing yet can still be cancelled."),
    "reason_optional": N_("Reason (optional)"),
    "request_cancel": N_("Request cancellation"),
    "get_updates": N_("Get updates"),
    "updates_go_to": N_("Updates go to"),
    "updates_hint": N_(
        "We tell you when your order ships, is out for delivery, is delivered or runs late. "
        "Every message has a link to stop them."
    ),
    "send_updates_by": N_("Send updates by"),
    "channel_email": N_("E-mail"),
    "channel_sms": N_("Text message (SMS)"),
    "mobile_number": N_("Mobile number"),
    "email_address": N_("E-mail address"),
    "tracking_unknown": N_(
        "We do not know this tracking number (yet). Please check it, or look your order up."
    ),
}


def page_labels(lang: str) -> dict[str, str]:
    """The page's labels in ``lang`` (English where a catalog lacks one)."""
    gettext = translations("page", lang).gettext
    return {key: gettext(text) for key, text in LABELS.items()}
