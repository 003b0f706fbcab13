"""Wire schemas: the JSON shapes of the Partnero contract, kept apart from the tables."""
