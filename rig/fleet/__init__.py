"""A fleet of rigs (README "Many rigs"): each rig's records copied to the lab's PostgreSQL
through a transactional outbox in its own SQLite file, and its bays' live state published to
the lab's MQTT broker. Both are optional and neither ever stops a reset: the station works the
same with the servers down, and catches up when they are back.

- settings.py: `[fleet]` of rig.toml.
- outbox.py: the rig's side of the outbox (what is waiting, taken in order, let go once sent).
- schema.py: the fleet database's tables, created and migrated by the rigs themselves.
- sender.py: the background thread that uploads the outbox, in order and idempotently.
- live.py: the MQTT publisher (retained state per bay, an event per job, online/offline).
- discovery.py: Home Assistant MQTT discovery of each bay's sensors.
- queries.py: the lab read back from PostgreSQL (reports, how far each rig is behind).
- view.py: the fleet view (`rig fleet`): every station's bays from MQTT, the day from PostgreSQL.
- link.py: what `rig run` and `rig reset` open: the sender and the publisher, as configured.
"""
