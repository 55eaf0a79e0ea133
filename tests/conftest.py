"""Shared test settings: deterministic Hypothesis runs (CI must not flake) and a ``spec`` fixture per loss."""

import os

import pytest
from hypothesis import HealthCheck, settings

import refloss

# Derandomized so that a CI run is reproducible; the "dev" profile explores with fresh randomness.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SPECS = [refloss.registry.get(name) for name in refloss.registry.names()]


@pytest.fixture(params=SPECS, ids=[s.name for s in SPECS])
def spec(request):
    """Each registered loss record in turn."""
    return request.param
