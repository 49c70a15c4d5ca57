"""Runnable recipes: each trains one model on real data and writes its numbers and pictures to a run directory."""

from . import diabetes_mlp, digits_mlp

# name -> module with NAME, DESCRIPTION, DEFAULT_EPOCHS and run(config) -> metrics dict
RECIPES = {module.NAME: module for module in (digits_mlp, diabetes_mlp)}
DEFAULT_RECIPE = digits_mlp.NAME
