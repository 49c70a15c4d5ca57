"""Data sets and data pipeline: Dataset, DataLoader, transforms and the embedded data sets."""
