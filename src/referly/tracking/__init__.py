"""The public tracking path: the browser script and the unauthenticated endpoints it calls."""
