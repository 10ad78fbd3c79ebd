"""A stand-in Bot API server for end-to-end tests of the real Application."""
