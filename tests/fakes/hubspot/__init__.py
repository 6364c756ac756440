"""A stateful fake HubSpot account, served through `responses` or on loopback HTTP."""

from tests.fakes.hubspot.fake import ALL_SCOPES, DEFAULT_TOKEN, FakeHubSpot, SimulatedClock

__all__ = ["ALL_SCOPES", "DEFAULT_TOKEN", "FakeHubSpot", "SimulatedClock"]
