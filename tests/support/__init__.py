"""Helpers shared by the test suites: real service processes, PostgreSQL control, test data."""
