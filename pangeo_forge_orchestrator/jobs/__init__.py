"""Durable work: the queue and one module per job kind.

queue.py (the `job` table: enqueue, claim, settle, leases), registry.py (job kinds, handler
signals), outcomes.py (what a run comes to) and listener.py (LISTEN pfo_jobs) serve the worker;
every other module here registers one job kind with `@job_handler`.
"""
