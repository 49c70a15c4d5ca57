"""The model zoo: classic architectures with torchvision's state_dict keys, built from glassbox.nn layers."""
