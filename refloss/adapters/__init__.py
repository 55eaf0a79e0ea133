"""Adapters run a registered loss's counterpart in another framework, for comparison with the reference."""
