"""The backfill progress bar against the fake HubSpot served on loopback HTTP."""

from __future__ import annotations

from tests.jobs.test_cli_sync import base_url, env, fake, invoke

__all__ = ["base_url", "env", "fake"]  # fixtures the tests below use


def test_backfill_progress_shows_contact_total(env, fake):
    invoke(env, "setup")

    result = invoke(env, "backfill")

    counts = [
        call.body for call in fake.calls_to("POST", r"/contacts/search$") if call.body["limit"] == 1
    ]
    assert result.exit_code == 0, result.output
    assert len(counts) == 1
    # The bar ends at done/total: the 5 contacts of the fake account.
    assert "5/5" in result.output
