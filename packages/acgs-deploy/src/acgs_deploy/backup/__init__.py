"""Encrypted backup and restore of the monitoring stack.

archive: the encrypted container; snapshot: taking a backup; manifest: what a backup holds;
restore: verify and restore; retention: pruning old backups; report: progress and tables.
"""
