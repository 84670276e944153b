"""The station in a browser (`rig run --web`): one page with every bay live, a scan field and
a stop button, today's figures, the report and each unit's certificate and label.

- `feed`: the page's state, fed by the station's live feed (rig.progress, unit listeners).
- `scans`: the page's scans and stop button merged into the station's scan stream.
- `app`: the Starlette app (page, server-sent events, scan, stop, report, labels), its token.
- `serve`: uvicorn in a thread of `rig run`, the listen address and the token check.
"""
