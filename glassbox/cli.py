"""The `glassbox` command: `glassbox list`, `glassbox run [RECIPE] [--epochs N] [--seed S] [--out DIR]
[--data PATH] [--train-examples N]`, `glassbox backprop` and `glassbox board`. Errors are one line and a non-zero
exit code (2 for bad arguments); --debug shows tracebacks."""

import argparse
import json
import os
import sys
import tempfile


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line (and exit code 2) instead of usage + message."""

    def error(self, message):
        self.exit(2, f"glassbox: error: {message} (see glassbox --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def build_parser(recipe_names, default_recipe):
    parser = _OneLineParser(prog="glassbox", description="glassbox: deep learning from first principles on NumPy.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    commands.add_parser("list", help="list the recipes")
    run = commands.add_parser("run", help="train a recipe and write its metrics and plots")
    run.add_argument("recipe", nargs="?", default=default_recipe, metavar="RECIPE",
                     help=f"one of: {', '.join(recipe_names)} (default: {default_recipe})")
    run.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the recipe's)")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    run.add_argument("--out", help="output directory (default: runs/RECIPE)")
    run.add_argument("--data", help="a data file replacing the embedded data (same format), or the folder holding a "
                                    "downloadable data set (MNIST, Fashion-MNIST, CIFAR-10)")
    run.add_argument("--train-examples", type=_non_negative_int, metavar="N",
                     help="train on a seeded subset of N images (0: all) in the recipes on large data sets")
    run.add_argument("--quiet", action="store_true", help="no progress output, only the final metrics")
    # SUPPRESS: without it the subcommand's default (False) would overwrite `glassbox --debug run ...`'s True.
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
    # Commands with their own parsers: everything after the command's name is theirs (see `glassbox NAME --help`).
    for name, text in _DELEGATED.items():
        delegated = commands.add_parser(name, help=text, add_help=False)
        delegated.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


_DELEGATED = {
    "backprop": "step through backpropagation one graph node at a time (glassbox backprop --help)",
    "board": "watch training runs live in the browser: curves, images, diagnostics, graph (glassbox board --help)",
}


def _run_delegated(name, arguments):
    if name == "backprop":
        from .insight.backprop_cli import main as backprop_main

        return backprop_main(arguments)
    if name == "board":
        from .board.cli import main as board_main

        return board_main(arguments)
    raise AssertionError(name)


def main(argv=None):
    from .recipes import DEFAULT_RECIPE, RECIPES

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:  # before argparse, which would take the command's own options as ours
        return _run_delegated(argv[0], argv[1:])
    parser = build_parser(list(RECIPES), DEFAULT_RECIPE)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "list":
        width = max(len(name) for name in RECIPES)
        for name, recipe in RECIPES.items():
            default = "  (default)" if name == DEFAULT_RECIPE else ""
            print(f"{name.ljust(width)}  {recipe.DESCRIPTION}{default}")
        return 0
    if args.recipe not in RECIPES:
        parser.error(f"unknown recipe {args.recipe!r}; choose one of: {', '.join(RECIPES)}")
    if args.data is not None and not os.path.exists(args.data):
        parser.error(f"--data {args.data}: no such file or folder")
    try:
        return _run(RECIPES[args.recipe], args)
    except KeyboardInterrupt:
        print("glassbox: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one readable line for people; the traceback for developers
        if args.debug:
            raise
        print(f"glassbox: error: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        _abort_mpi_job_if_any(error)
        return 1


def _abort_mpi_job_if_any(error):
    """In an MPI job a rank that stops would leave the others waiting in their next all-reduce: end them all."""
    from .distributed import process_group

    if process_group.is_initialized() and process_group.get_world_size() > 1:
        process_group.abort(f"{type(error).__name__}: {error}")


def _run(recipe, args):
    from .recipes.common import RunConfig

    out = args.out or os.path.join("runs", recipe.NAME)
    rank, world = _join_mpi_job()
    if rank > 0:
        # Under `mpiexec -n N glassbox run ...` every rank trains (fit shards the data and averages gradients), but
        # only rank 0 prints and writes the run directory; the others write theirs to a throwaway folder.
        with tempfile.TemporaryDirectory(prefix=f"glassbox-rank{rank}-") as scratch:
            recipe.run(RunConfig(epochs=args.epochs, seed=args.seed, out=scratch, data=args.data, verbose=0,
                                 train_examples=args.train_examples))
        return 0
    config = RunConfig(epochs=args.epochs, seed=args.seed, out=out, data=args.data, verbose=0 if args.quiet else 1,
                       train_examples=args.train_examples)
    if not args.quiet:
        ranks = f" (data-parallel over {world} MPI ranks)" if world > 1 else ""
        print(f"glassbox run {recipe.NAME}: {recipe.DESCRIPTION}{ranks}")
    from .train.recording import recording

    with recording(out):  # live log, diagnostics, graph and backprop steps for `glassbox board`
        metrics = recipe.run(config)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"wrote {out}/: " + ", ".join(sorted(os.listdir(out))))
    return 0


def _join_mpi_job():
    """(rank, world size): joins the MPI job when an MPI launcher started us, else (0, 1)."""
    from .distributed import process_group

    if not process_group.launched_by_mpi():
        return 0, 1
    group = process_group.init_process_group()
    return group.rank, group.world_size


if __name__ == "__main__":
    sys.exit(main())
