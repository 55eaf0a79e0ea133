"""Adapters that compute detector losses through the detectors' own framework code (torchvision)."""
