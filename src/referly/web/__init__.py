"""HTTP plumbing shared by the doors (the REST API and the public tracking path): the client's
address, rate limits, body limits, idempotency keys and how an error is rendered. Nothing here
decides a business rule."""
