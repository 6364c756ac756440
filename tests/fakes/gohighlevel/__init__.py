"""A stateful fake GoHighLevel, served through `responses` or on loopback HTTP."""

from tests.fakes.gohighlevel.app import FakeGoHighLevel, FakeRequest, FakeResponse, RecordedRequest
from tests.fakes.gohighlevel.state import ALL_SCOPES, FakeState, FrozenClock, iso

__all__ = [
    "ALL_SCOPES",
    "FakeGoHighLevel",
    "FakeRequest",
    "FakeResponse",
    "FakeState",
    "FrozenClock",
    "RecordedRequest",
    "iso",
]
