"""Shared pytest setup: paths to the repository's shared test data."""

import pathlib

REPO = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = REPO / "clients" / "testdata"
