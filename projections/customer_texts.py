"""The customer-facing reason texts: what the status page (and an e-mail quoting it) tells the
customer about an exception, by type and, where it says more, by reason. Each English text is
one msgid of the ``page`` catalog, translated where it is shown (``projections.customer_order``,
the messages)."""

from __future__ import annotations

from wismo.i18n import N_
from wismo.vocab import ExceptionType, Reason

CUSTOMER_TEXT: dict[ExceptionType, str] = {
    ExceptionType.CARRIER_REPORTED: N_(
        "The carrier reported a problem with your parcel. We are following it up and will "
        "update you here."
    ),
    ExceptionType.STALLED: N_(
        "Your parcel has not been scanned by the carrier for a while. We have asked the carrier "
        "to check on it."
    ),
    ExceptionType.LATE_VS_PROMISE: N_(
        "Your parcel is running late against the date we promised. We are on it and will keep "
        "this page up to date."
    ),
    ExceptionType.NOT_SHIPPED_ON_TIME: N_(
        "Your order is taking longer than planned to leave our warehouse. We will update you "
        "as soon as it ships."
    ),
    ExceptionType.LABEL_NOT_SCANNED: N_(
        "Your parcel is packed but the carrier has not scanned it yet. We are checking the "
        "hand-over."
    ),
    ExceptionType.DELIVERY_ATTEMPT_FAILED: N_(
        "The carrier could not deliver your parcel. Check the carrier's notice to rearrange "
        "delivery or collect it."
    ),
    ExceptionType.RETURN_TO_SENDER: N_(
        "Your parcel is being returned to us. We will contact you about a new delivery or a refund."
    ),
    ExceptionType.LOST_OR_DAMAGED: N_(
        "Something went wrong with your parcel in transit. We will contact you about a "
        "replacement or a refund."
    ),
    ExceptionType.CUSTOMS_HOLD: N_(
        "Your parcel is held at customs. We will let you know if anything is needed from you."
    ),
    ExceptionType.PAYMENT_CAPTURE_FAILED: N_(
        "We could not take payment for your order. Please update your payment details so we "
        "can ship it."
    ),
    ExceptionType.REFUND_OVERDUE: N_(
        "We received your return and your refund is on its way; we are making sure it is processed."
    ),
    ExceptionType.TRENDING_LATE: N_(
        "Your parcel may arrive later than promised. It has not been delayed yet; we are "
        "watching it and will keep this page up to date."
    ),
    ExceptionType.CUSTOMER_REPORTED: N_(
        "Thank you for letting us know. We are looking into the problem you reported and will "
        "contact you."
    ),
}

CUSTOMER_TEXT_BY_REASON: dict[Reason, str] = {
    Reason.CONSIGNEE_ADDRESS_INCORRECT: N_(
        "The carrier could not find the delivery address. Please contact us to confirm it."
    ),
    Reason.CONSIGNEE_ADDRESS_INCOMPLETE: N_(
        "The delivery address is incomplete. Please contact us to complete it."
    ),
    Reason.CONSIGNEE_MOVED: N_("The carrier says the recipient has moved. Please contact us."),
    Reason.CONSIGNEE_REFUSED: N_(
        "The parcel was refused at delivery. Contact us if this was not intended."
    ),
    Reason.CONSIGNEE_PAYMENT_REQUIRED: N_(
        "A payment is due before the carrier can deliver. Please follow the carrier's notice."
    ),
    Reason.CUSTOMS_DUTIES_DUE: N_(
        "Import duties are due before customs releases your parcel. Please follow the "
        "carrier's instructions to pay them."
    ),
    Reason.CUSTOMS_DOCUMENTS_REQUIRED: N_(
        "Customs needs documents to release your parcel. We will contact you if we need "
        "anything from you."
    ),
    Reason.WEATHER_DELAY: N_(
        "Bad weather is delaying your parcel. It will move as soon as it can."
    ),
    Reason.WEATHER_NATURAL_DISASTER: N_(
        "A natural disaster is disrupting deliveries in the area. Your parcel will move as soon "
        "as it is safe."
    ),
    Reason.CONSIGNEE_NOT_AVAILABLE: N_(
        "The carrier found nobody to receive your parcel. Check the carrier's notice to "
        "rearrange delivery."
    ),
    Reason.CONSIGNEE_BUSINESS_CLOSED: N_(
        "The business was closed at delivery. The carrier will try again on the next working day."
    ),
}
