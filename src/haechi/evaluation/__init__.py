"""Measuring detectors: metrics, perturbations, runs over folders, ROC plots."""
