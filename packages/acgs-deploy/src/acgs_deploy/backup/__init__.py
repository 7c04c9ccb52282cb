"""Encrypted backup and restore of the monitoring stack.

archive: the encrypted container; snapshot: taking a backup; manifest: what a backup holds;
restore: verify and restore; retention: pruning old backups; report: progress and tables;
apistate: silences and Grafana dashboards through their APIs; run: all of it wired to the
deployed stack; scratch: throwaway servers for tests and benchmarks.
"""
