"""`make bench`: certq's performance suite, run against processes it starts.

A run creates its own PostgreSQL database and Redis key namespace, starts
`certq web` and `certq scheduler` for the whole run and one `certq worker` per
phase, measures, then stops every process and drops the database and the keys,
even on Ctrl-C. The figures go to `bench-results/bench-<timestamp>.json` and
to a table on stdout; compare runs by their ratios, which hold on any machine,
rather than by absolute times.

    plan        how much each phase does (`--size`)
    isolation   the run's own database and Redis namespace
    cluster     the processes, started with certq.demo's ChildProcesses
    client      an aiohttp client of the HTTP API that times every call
    stats       percentiles, rates and ratios
    phases      the measurements, one function each
    suite       the order of the phases and the worker each one needs
    report      the JSON file and the table
    __main__    the command: options, clean-up, exit status
"""
