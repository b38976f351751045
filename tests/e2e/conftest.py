"""The end-to-end tests' shared server is `server` in tests/conftest.py."""

from __future__ import annotations

from testkit import FIXTURES as FIXTURES  # where test modules here used to find it
