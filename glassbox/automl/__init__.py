"""AutoML: search spaces, search strategies (random, successive halving, Hyperband, regularized evolution), a driver.

    import glassbox.automl as automl
    space = automl.image_classifier_space()
    def objective(config, epochs, trial_dir):          # top-level function: picklable for workers > 1
        model = automl.build_model(config, (1, 8, 8), 10)
        ...train for `epochs`, save the model into trial_dir...
        return {"score": val_accuracy}
    search = automl.Search(space, objective, automl.Hyperband(1, 27), budget=automl.Budget(seconds=600),
                           directory="runs/nas", seed=0).run()
    print(search.best().config)
"""

from .search import Budget, Search, Trial
from .space import (
    Choice,
    Fixed,
    FloatRange,
    IntRange,
    OneOf,
    Param,
    Repeat,
    Space,
    build_model,
    from_json,
    image_classifier_space,
)
from .strategies import (
    Hyperband,
    Proposal,
    RandomSearch,
    RegularizedEvolution,
    Strategy,
    SuccessiveHalving,
    hyperband_brackets,
    rung_schedule,
)

__all__ = ["Param", "Space", "Choice", "IntRange", "FloatRange", "Fixed", "OneOf", "Repeat", "from_json",
           "build_model", "image_classifier_space", "Strategy", "Proposal", "RandomSearch", "SuccessiveHalving",
           "Hyperband", "RegularizedEvolution", "hyperband_brackets", "rung_schedule", "Search", "Budget", "Trial"]
