"""Dates written the ways people write them ("3 March 2017", "Fri 3 Mar 2017", "03/03/2017", ...) paired with their
ISO form ("2017-03-03"): the data of the seq2seq-dates recipe, generated from a seed, split by date.

Conventions that keep every source unambiguous: numeric day/month formats are day first (European: 03/04/2017 is
3 April), and two-digit years pivot at 50 inside the range 1950-2049 (50..99 -> 19xx, 00..49 -> 20xx).
"""

import datetime
import string

import numpy as np

from ..text import Vocab, pad_batch

FIRST_YEAR, LAST_YEAR = 1950, 2049

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]  # date.weekday() order


def ordinal(day):
    """1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd" ..."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _fields(date):
    """The pieces a format is assembled from, for one datetime.date."""
    month, weekday = MONTHS[date.month - 1], WEEKDAYS[date.weekday()]
    return {"d": str(date.day), "dd": f"{date.day:02d}", "do": ordinal(date.day), "m": str(date.month),
            "mm": f"{date.month:02d}", "MMMM": month, "MMM": month[:3], "EEEE": weekday, "EEE": weekday[:3],
            "yyyy": f"{date.year:04d}", "yy": f"{date.year % 100:02d}"}


# name -> template of field names in braces. The name documents the layout; the template builds the string.
FORMATS = {
    "d MMMM yyyy": "{d} {MMMM} {yyyy}",  # 3 March 2017
    "MMMM d, yyyy": "{MMMM} {d}, {yyyy}",  # March 3, 2017
    "dd/mm/yyyy": "{dd}/{mm}/{yyyy}",  # 03/03/2017
    "yyyy.m.d": "{yyyy}.{m}.{d}",  # 2017.3.3
    "EEEE, MMMM do yyyy": "{EEEE}, {MMMM} {do} {yyyy}",  # Friday, March 3rd 2017
    "d MMM yy": "{d} {MMM} {yy}",  # 3 Mar 17
    "MMM d yyyy": "{MMM} {d} {yyyy}",  # Mar 3 2017
    "dd-MMM-yyyy": "{dd}-{MMM}-{yyyy}",  # 03-Mar-2017
    "do of MMMM yyyy": "{do} of {MMMM} {yyyy}",  # 3rd of March 2017
    "dd.mm.yyyy": "{dd}.{mm}.{yyyy}",  # 03.03.2017
    "EEE d MMM yyyy": "{EEE} {d} {MMM} {yyyy}",  # Fri 3 Mar 2017
    "EEEE d MMMM yyyy": "{EEEE} {d} {MMMM} {yyyy}",  # Friday 3 March 2017
    "d/m/yy": "{d}/{m}/{yy}",  # 3/3/17
    "yyyymmdd": "{yyyy}{mm}{dd}",  # 20170303
    "yyyy-mm-dd": "{yyyy}-{mm}-{dd}",  # 2017-03-03 (already ISO: the model must learn to copy it)
}
# Formats with words in them are written in Title case, lower case or UPPER case with these probabilities.
CASES = (("title", 0.6), ("lower", 0.25), ("upper", 0.15))

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")  # pad is id 0 in both vocabularies
SOURCE_CHARS = string.ascii_letters + string.digits + " ,./-"
TARGET_CHARS = string.digits + "-"


def iso(date):
    """The target string: "YYYY-MM-DD"."""
    return date.isoformat()


def render(date, format_name, case="title"):
    """date (datetime.date) written in FORMATS[format_name], in `case` ("title", "lower" or "upper")."""
    if format_name not in FORMATS:
        raise ValueError(f"dates_data.render: unknown format {format_name!r}; choose one of {sorted(FORMATS)}")
    text = FORMATS[format_name].format(**_fields(date))
    if case == "lower":
        return text.lower()
    if case == "upper":
        return text.upper()
    if case != "title":
        raise ValueError(f"dates_data.render: case must be 'title', 'lower' or 'upper', got {case!r}")
    return text


def all_dates(first_year=FIRST_YEAR, last_year=LAST_YEAR):
    """Every date from 1 January first_year to 31 December last_year, in order."""
    start, stop = datetime.date(first_year, 1, 1), datetime.date(last_year, 12, 31)
    return [start + datetime.timedelta(days=k) for k in range((stop - start).days + 1)]


def split_dates(seed, val_fraction=0.05, test_fraction=0.10):
    """{"train", "val", "test"}: disjoint lists of dates from a seeded shuffle of all_dates(), so that no test date
    (in any format) was seen in training."""
    dates = all_dates()
    order = np.random.default_rng(seed).permutation(len(dates))
    n_test, n_val = int(round(test_fraction * len(dates))), int(round(val_fraction * len(dates)))
    pick = lambda idx: [dates[i] for i in idx]  # noqa: E731
    return {"test": pick(order[:n_test]), "val": pick(order[n_test:n_test + n_val]),
            "train": pick(order[n_test + n_val:])}


def make_pairs(dates, rng, count=None):
    """(sources, targets, formats), three lists of length `count`: each a random date of `dates` (each date once,
    in order, when count is None) written in a random format and case, with its ISO form."""
    if count is None:
        chosen = list(dates)
    else:
        chosen = [dates[i] for i in rng.integers(0, len(dates), size=count)]
    names = list(FORMATS)
    format_ids = rng.integers(0, len(names), size=len(chosen))
    cases = rng.choice([c for c, _ in CASES], p=[p for _, p in CASES], size=len(chosen))
    sources, targets, formats = [], [], []
    for date, f, case in zip(chosen, format_ids, cases):
        sources.append(render(date, names[f], str(case)))
        targets.append(iso(date))
        formats.append(names[f])
    return sources, targets, formats


def source_vocab():
    """Characters of the sources: SPECIALS then SOURCE_CHARS (fixed, not read from data: ids never change)."""
    return Vocab(dict.fromkeys(SOURCE_CHARS, 1), specials=SPECIALS)


def target_vocab():
    """Characters of the ISO targets: SPECIALS then the digits and "-"."""
    return Vocab(dict.fromkeys(TARGET_CHARS, 1), specials=SPECIALS)


def encode_sources(sources, vocab):
    """Source strings -> int64 (B, T_in): the characters then "</s>", padded with "<pad>" at the end."""
    end = vocab.stoi["</s>"]
    padded, _, _ = pad_batch([np.append(vocab.encode(list(s)), end) for s in sources], pad_index=vocab.pad_index)
    return padded


def encode_targets(targets, vocab):
    """Target strings -> (decoder_input, decoder_target), int64 (B, T_out) each: "<s>" + chars for the input
    (teacher forcing) and chars + "</s>" for what each step must predict, padded with "<pad>"."""
    start, end = vocab.stoi["<s>"], vocab.stoi["</s>"]
    ids = [vocab.encode(list(t)) for t in targets]
    inputs, _, _ = pad_batch([np.concatenate([[start], i]) for i in ids], pad_index=vocab.pad_index)
    outputs, _, _ = pad_batch([np.append(i, end) for i in ids], pad_index=vocab.pad_index)
    return inputs, outputs


def decode_ids(ids, vocab):
    """One row of output ids -> the string before the first "</s>"; any other special is kept as its name (e.g.
    "<pad>"), so that a stray special token never passes for a right answer."""
    end = vocab.stoi["</s>"]
    chars = []
    for i in np.asarray(getattr(ids, "data", ids)).tolist():
        if i == end:
            break
        chars.append(vocab.itos[i])
    return "".join(chars)
