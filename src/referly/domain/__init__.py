"""Domain services: the business rules, shared by the REST API, the public tracking path,
the dashboard and the CLI. Services only `flush()`; the caller owns the transaction."""
