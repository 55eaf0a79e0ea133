"""The conformance suite: golden vectors (LossVec v1), their generator, linter and validator."""
