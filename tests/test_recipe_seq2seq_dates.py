"""The seq2seq-dates recipe: generated dates parse back to their ISO target (datetime's strptime is the oracle), the
formats cover the usual ways of writing a date, the splits are disjoint, the encodings and scores match hand
computations, a smoke run writes every file, and (slow) the real run translates >= 95% of unseen dates exactly."""

import datetime
import json
import re

import numpy as np
import pytest

from glassbox.recipes import dates_data, seq2seq_dates
from glassbox.recipes.common import RunConfig

# Independent of the generator's templates: how datetime reads each format (ordinal suffixes removed first).
STRPTIME = {
    "d MMMM yyyy": "%d %B %Y", "MMMM d, yyyy": "%B %d, %Y", "dd/mm/yyyy": "%d/%m/%Y", "yyyy.m.d": "%Y.%m.%d",
    "EEEE, MMMM do yyyy": "%A, %B %d %Y", "d MMM yy": "%d %b %y", "MMM d yyyy": "%b %d %Y",
    "dd-MMM-yyyy": "%d-%b-%Y", "do of MMMM yyyy": "%d of %B %Y", "dd.mm.yyyy": "%d.%m.%Y",
    "EEE d MMM yyyy": "%a %d %b %Y", "EEEE d MMMM yyyy": "%A %d %B %Y", "d/m/yy": "%d/%m/%y",
    "yyyymmdd": "%Y%m%d", "yyyy-mm-dd": "%Y-%m-%d",
}
SUFFIX = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b", re.IGNORECASE)


def parse(source, format_name):
    """The date a human reads in `source` (day-first numbers; two-digit years in 1950-2049)."""
    pattern = STRPTIME[format_name]
    text = source
    match = SUFFIX.search(source)
    if match:
        day = int(match.group(1))
        expected = "th" if day in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        assert match.group(2).lower() == expected, source
        text = SUFFIX.sub(r"\1", source)
    parsed = datetime.datetime.strptime(text, pattern).date()
    if "%y" in pattern:  # strptime pivots at 69; the data's documented window is 1950-2049
        century = 1900 if parsed.year % 100 >= 50 else 2000
        parsed = parsed.replace(year=century + parsed.year % 100)
    if "%A" in pattern or "%a" in pattern:  # strptime does not check the weekday against the date: do it here
        name = parsed.strftime("%A" if "%A" in pattern else "%a").lower()
        assert name in source.lower().split(",")[0].split(" ")[0], (source, name)
    return parsed


def test_every_generated_pair_parses_back_to_its_target():
    rng = np.random.default_rng(0)
    sources, targets, formats = dates_data.make_pairs(dates_data.all_dates(), rng, 4000)
    assert set(STRPTIME) == set(dates_data.FORMATS)
    for source, target, name in zip(sources, targets, formats):
        assert parse(source, name) == datetime.date.fromisoformat(target), (source, target, name)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)


def test_formats_cover_the_usual_ways_of_writing_a_date():
    day = datetime.date(2017, 3, 3)  # a Friday
    written = {dates_data.render(day, name, case) for name in dates_data.FORMATS for case in ("title", "lower",
                                                                                              "upper")}
    for example in ["3 March 2017", "March 3, 2017", "03/03/2017", "2017.3.3", "Friday, March 3rd 2017",
                    "3 mar 17", "mar 3 2017", "03-Mar-2017", "3rd of March 2017", "03.03.2017", "Fri 3 Mar 2017",
                    "FRIDAY 3 MARCH 2017", "3/3/17", "20170303", "2017-03-03"]:
        assert example in written, example
    assert len(dates_data.FORMATS) >= 10
    sources, _, formats = dates_data.make_pairs(dates_data.all_dates(), np.random.default_rng(1), 3000)
    assert set(formats) == set(dates_data.FORMATS)  # every format is drawn
    worded = [s for s, f in zip(sources, formats) if "MMM" in f]
    assert any(s.islower() for s in worded) and any(s.isupper() for s in worded)
    assert any(s != s.lower() and s != s.upper() for s in worded)


def test_day_first_and_two_digit_year_conventions():
    assert dates_data.render(datetime.date(1950, 4, 7), "dd/mm/yyyy") == "07/04/1950"
    assert dates_data.render(datetime.date(2049, 12, 31), "d/m/yy") == "31/12/49"
    assert dates_data.render(datetime.date(1999, 1, 22), "do of MMMM yyyy", "upper") == "22ND OF JANUARY 1999"
    assert [dates_data.ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    with pytest.raises(ValueError, match="unknown format"):
        dates_data.render(datetime.date(2000, 1, 1), "mm/dd/yyyy")


def test_splits_are_disjoint_and_cover_the_range():
    split = dates_data.split_dates(0)
    train, val, test = (set(split[k]) for k in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    everything = train | val | test
    assert len(everything) == (datetime.date(2049, 12, 31) - datetime.date(1950, 1, 1)).days + 1
    assert min(everything) == datetime.date(1950, 1, 1) and max(everything) == datetime.date(2049, 12, 31)
    assert abs(len(test) / len(everything) - 0.10) < 0.001 and abs(len(val) / len(everything) - 0.05) < 0.001
    assert split["test"] == dates_data.split_dates(0)["test"] and split["test"] != dates_data.split_dates(1)["test"]
    _, targets, _ = dates_data.make_pairs(split["train"], np.random.default_rng(0), 2000)
    assert not {datetime.date.fromisoformat(t) for t in targets} & test


def test_encodings_match_a_hand_computation():
    source_vocab, target_vocab = dates_data.source_vocab(), dates_data.target_vocab()
    for vocab in (source_vocab, target_vocab):
        assert vocab.itos[:4] == ["<pad>", "<unk>", "<s>", "</s>"] and vocab.pad_index == 0
    assert set(target_vocab.itos[4:]) == set("0123456789-")
    src = dates_data.encode_sources(["3 Mar", "1"], source_vocab)
    s = source_vocab.stoi
    np.testing.assert_array_equal(src, [[s["3"], s[" "], s["M"], s["a"], s["r"], 3],
                                        [s["1"], 3, 0, 0, 0, 0]])
    tgt_in, tgt_out = dates_data.encode_targets(["2017-03-03"], target_vocab)
    t = target_vocab.stoi
    assert tgt_in[0].tolist() == [2] + [t[c] for c in "2017-03-03"]
    assert tgt_out[0].tolist() == [t[c] for c in "2017-03-03"] + [3]
    assert dates_data.decode_ids(tgt_out[0], target_vocab) == "2017-03-03"
    assert dates_data.decode_ids([t["1"], 0, t["2"], 3, t["5"]], target_vocab) == "1<pad>2"  # a stray pad shows


def test_scores_and_batches_match_hand_computations():
    exact, chars = seq2seq_dates.scores(["2017-03-03", "2017-03-0", "1999-12-31x"],
                                        ["2017-03-03", "2017-03-04", "1999-12-31"])
    assert exact == pytest.approx(1 / 3) and chars == pytest.approx((10 + 9 + 10) / 30)
    sources = ["a" * (i % 7 + 1) for i in range(203)]
    batches = seq2seq_dates.batches(sources, np.random.default_rng(0), 16)
    assert sorted(np.concatenate(batches).tolist()) == list(range(203))  # every pair once per epoch
    assert max(len(b) for b in batches) == 16
    assert seq2seq_dates._output_tokens("1<pad>2", 5) == ["1", "<pad>", "2", "</s>"]  # one row per token
    assert seq2seq_dates._output_tokens("123", 3) == ["1", "2", "3"]  # never ended: no "</s>" row


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    for name, value in (("TRAIN_EXAMPLES", 256), ("VAL_EXAMPLES", 40), ("TEST_EXAMPLES", 60),
                        ("HIDDEN_SIZE", 16), ("SHOWN_TRANSLATIONS", 10)):
        monkeypatch.setattr(seq2seq_dates, name, value)
    metrics = seq2seq_dates.run(RunConfig(out=str(tmp_path), epochs=2, verbose=0))
    for key in ("test_exact_match", "test_char_accuracy", "train_seconds", "parameters", "epochs"):
        assert key in metrics, key
    assert metrics["test_examples"] == 60 and metrics["epochs"] == 2 and 0 <= metrics["test_exact_match"] <= 1
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "curves.png", "model.safetensors", "attention.png", "translations.txt",
                 "source_vocab.json", "target_vocab.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    for name in ("curves.png", "attention.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,loss") and len(rows) == 3
    text = (tmp_path / "translations.txt").read_text()
    wrong = round((1 - metrics["test_exact_match"]) * 60)
    assert f"60 test dates, {wrong} mistranslated" in text
    assert text.count("\nx ") == wrong + sum(line.startswith("x ") for line in text.split("# mistakes")[0].splitlines())


@pytest.mark.slow
def test_real_run_translates_unseen_dates(tmp_path):
    metrics = seq2seq_dates.run(RunConfig(out=str(tmp_path), verbose=0))
    assert metrics["test_exact_match"] >= 0.95
    assert metrics["test_char_accuracy"] >= 0.98
