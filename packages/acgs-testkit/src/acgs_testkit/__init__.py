"""The ACGS toolkit's test harness: one implementation of what tests and benchmarks start.

- :mod:`~acgs_testkit.paths` ``REPO_ROOT``, the checkout the tests run in;
- :mod:`~acgs_testkit.ports` free loopback ports (never the guide's), a whole stack's ports;
- :mod:`~acgs_testkit.waiting` wait for a condition, stop a process;
- :mod:`~acgs_testkit.ca` a throwaway CA with server, client and unrelated certificates;
- :mod:`~acgs_testkit.servers` real Prometheus, Alertmanager and node_exporter on free ports,
  plain or behind TLS and basic auth, always stopped; promtool's block writer;
- :mod:`~acgs_testkit.sim` ``acgs-sim`` as a subprocess; reading an exposition;
- :mod:`~acgs_testkit.stack` a small scraping stack (sim, exporters, Prometheus) and a whole
  stack deployed by acgs-deploy into a temporary state directory;
- :mod:`~acgs_testkit.promtool` what real promtool accepts; :mod:`~acgs_testkit.benchmarks`
  smoke runs of benchmark scripts and a command's time and peak RSS; :mod:`~acgs_testkit.load`
  query load in the background;
- :mod:`~acgs_testkit.plugin` the pytest fixtures every package's tests share.

Dev only: no product package depends on it, so nothing here ships to users.
"""
