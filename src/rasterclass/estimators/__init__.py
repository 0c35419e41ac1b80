"""Scikit-learn compatible classifiers for remote-sensing rasters."""
