"""The poll role's I/O (docs/integrations.md, "Polling"): calling the carriers' tracking APIs
for due parcels and publishing what changed as raw payloads, and registering trackers with an
aggregator. The decisions are pure, in :mod:`projections.poll`."""
