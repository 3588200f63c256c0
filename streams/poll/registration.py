"""Registering parcels with the tracking aggregator (AfterShip or EasyPost), once each.

Once: a Redis marker claimed with ``SET NX`` (:class:`projections.poll.registrations.
RegistrationMarks`) lets one worker make the call; the aggregators' own duplicate handling
covers the rest — AfterShip answers meta code 4003 for a tracking it already has (taken as
done), EasyPost returns the existing tracker. A failed call releases the claim, so the parcel's
next timeline change tries again.
"""

from __future__ import annotations

import logging

from carriers.errors import TrackingApiError
from projections.poll.plan import Registration
from projections.poll.registrations import RegistrationMarks
from streams.poll.apis import Register

log = logging.getLogger(__name__)

#: AfterShip's meta code for "Tracking already exists."
AFTERSHIP_EXISTS = "4003"


class TrackerRegistrar:
    def __init__(self, marks: RegistrationMarks, register: Register) -> None:
        self.marks = marks
        self._register = register

    async def register(self, registration: Registration) -> bool:
        """Register one parcel unless it was; returns whether this call registered it."""
        number = registration.tracking_number
        if not await self.marks.claim(number):
            return False
        try:
            tracker_id = await self._register(number, registration.carrier, registration.order_id)
        except TrackingApiError as error:
            if _already_there(error):
                await self.marks.done(number, None)
                return True
            await self.marks.release(number)
            log.warning("registering %s failed, retried on its next change: %s", number, error)
            return False
        await self.marks.done(number, tracker_id)
        return True


def _already_there(error: TrackingApiError) -> bool:
    return error.status in (400, 409, 422) and AFTERSHIP_EXISTS in str(error)
