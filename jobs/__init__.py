"""Jobs: settings, the state store, the sync cycle, backfill, the daemon, alerts,
calibration reports and the `leadscore` command line."""
