"""The ACD's imperative shell: the ARI executor (``executor``), ordered command lanes (``lanes``), the
running service behind the HTTP API (``service``) and its Prometheus metrics (``metrics``)."""
