"""A local stand-in for a production deployment, for the demo and the tests."""
