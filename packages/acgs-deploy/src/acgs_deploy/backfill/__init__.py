"""History on demand for the running stack (`invoke backfill --hours N`): see
:mod:`acgs_deploy.backfill.run`."""

from acgs_deploy.backfill.run import BackfillReport, print_report, run_backfill

__all__ = ["BackfillReport", "print_report", "run_backfill"]
