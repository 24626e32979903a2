"""Simulation-based calibration (placeholder replaced below)."""
