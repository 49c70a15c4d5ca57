"""The `glassbox` command: one-line errors with exit code 2 for bad arguments, 1 for a failing run, tracebacks
only with --debug."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glassbox import cli
from glassbox.recipes import DEFAULT_RECIPE, RECIPES

REPO = Path(__file__).resolve().parent.parent


def glassbox(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "glassbox", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_list_prints_each_recipe():
    result = glassbox("list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(RECIPES)
    for line, (name, recipe) in zip(lines, RECIPES.items()):
        assert line.split()[0] == name
        assert recipe.DESCRIPTION in line
        assert ("(default)" in line) == (name == DEFAULT_RECIPE)


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "usage: glassbox" in out and "list" in out and "run" in out


@pytest.mark.parametrize("args, fragment", [
    (["run", "no-such-recipe"], "unknown recipe 'no-such-recipe'"),
    (["run", "--epochs", "0"], "--epochs"),
    (["run", "--epochs", "abc"], "'abc'"),
    (["run", "--epochs", "-3"], "--epochs"),
    (["run", "--seed", "-1"], "--seed"),
    (["run", "--seed", "1.5"], "--seed"),
    (["run", "--data", "no/such/file.csv"], "no/such/file.csv"),
    (["run", "--frobnicate"], "--frobnicate"),
    (["--frobnicate"], "--frobnicate"),
    (["fly"], "fly"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(args, fragment, tmp_path):
    result = glassbox(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("glassbox: error: ")
    assert fragment in lines[0]
    assert result.stdout == ""
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


def test_a_failing_recipe_gives_one_line_and_exit_code_1(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    result = glassbox("run", "digits-mlp", "--data", str(bad), "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("glassbox: error: ValueError: ")
    assert "65 columns" in lines[0] and "--debug" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, where):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    args = ["run", "digits-mlp", "--data", str(bad), "--out", str(tmp_path / "out"), "--quiet"]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    result = glassbox(*args)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError" in result.stderr


class Boom(RuntimeError):
    pass


@pytest.fixture
def failing_recipe(monkeypatch):
    recipe = RECIPES[DEFAULT_RECIPE]

    def run(config):
        raise Boom("the recipe broke")

    monkeypatch.setattr(recipe, "run", run)
    return recipe


def test_exception_in_a_recipe_in_process(failing_recipe, capsys, tmp_path):
    assert cli.main(["run", "--out", str(tmp_path), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "glassbox: error: Boom: the recipe broke (run with --debug for the traceback)"]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("args", [["--debug", "run"], ["run", "--debug"]])
def test_debug_reraises_in_process(failing_recipe, capsys, tmp_path, args):
    with pytest.raises(Boom, match="the recipe broke"):
        cli.main([*args, "--out", str(tmp_path), "--quiet"])
    assert "glassbox: error" not in capsys.readouterr().err


def test_keyboard_interrupt_is_one_line_and_exit_code_130(monkeypatch, capsys, tmp_path):
    def run(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(RECIPES[DEFAULT_RECIPE], "run", run)
    assert cli.main(["run", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err.splitlines() == ["glassbox: interrupted"]


def test_run_passes_the_settings_to_the_recipe(monkeypatch, capsys, tmp_path):
    seen = []

    def run(config):
        seen.append(config)
        os.makedirs(config.out, exist_ok=True)
        return {"answer": 42}

    data = tmp_path / "data.csv"
    data.write_text("0\n")
    monkeypatch.setattr(RECIPES["diabetes-mlp"], "run", run)
    assert cli.main(["run", "diabetes-mlp", "--epochs", "7", "--seed", "3", "--out", str(tmp_path / "o"),
                     "--data", str(data), "--quiet"]) == 0
    (config,) = seen
    assert (config.epochs, config.seed, config.out, config.data, config.verbose) == (7, 3, str(tmp_path / "o"),
                                                                                    str(data), 0)
    out = capsys.readouterr().out
    assert '"answer": 42' in out
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "diabetes-mlp"]) == 0
    assert seen[-1].out == os.path.join("runs", "diabetes-mlp") and seen[-1].epochs is None
    assert seen[-1].verbose == 1 and seen[-1].seed == 0 and seen[-1].train_examples is None
    # a data set's folder is accepted as --data, and --train-examples reaches the recipe (0 means all)
    assert cli.main(["run", "diabetes-mlp", "--data", str(tmp_path), "--train-examples", "0", "--quiet"]) == 0
    assert seen[-1].data == str(tmp_path) and seen[-1].train_examples == 0


def test_backprop_command_gets_its_own_options(capsys):
    assert cli.main(["backprop", "--model", "neuron"]) == 0
    out = capsys.readouterr().out
    assert "step 0:" in out and "backward pass complete" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "backprop" in capsys.readouterr().out
