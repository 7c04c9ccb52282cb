"""Performance validation of the live stack against the guide's targets.

One module per measurement: `loadgen` (query latency under N virtual users), `dashload`
(per-dashboard load), `detection` (fault to Alertmanager), `scrape` (scrape latency),
`overhead` (CPU and memory of the monitoring processes), `stats` (percentiles), `report`
(JSON, pictures, the target table). `run` ties them to a deployed stack.
"""
