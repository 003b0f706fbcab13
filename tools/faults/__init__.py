"""Fault injection: does every write Referly acknowledged survive the server being killed and
the database crashing? `python -m tools.faults` (or `scripts/crash-test`) runs it at length;
`tests/test_crash_safety.py` runs a short version on every test run.

- `cluster`: a private, throwaway PostgreSQL cluster that may be crashed at will.
- `server`: `referly serve` as a subprocess that may be killed with SIGKILL and restarted.
- `load`: concurrent clients that log every request they send and every answer they get.
- `audit`: compares the clients' log with what the database holds.
- `scenario`: puts them together; `report`: the counts table.
"""
