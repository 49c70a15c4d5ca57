"""ModelFileError: the one exception raised for any problem reading a model or checkpoint file."""

import os


class ModelFileError(ValueError):
    """A file that glassbox cannot load; the message names the file and says what is wrong with it.

    Attributes: `path` (the file, as given) and `reason` (what is wrong, without the path).
    It subclasses ValueError because the usual cause is bad content; a missing or unreadable file raises it too
    (chained from the OSError), so that one `except ModelFileError` covers every way a load can fail.
    """

    def __init__(self, path, reason):
        # Both go to Exception.__init__ so that the exception pickles (multiprocessing, pytest-xdist) intact.
        super().__init__(os.fspath(path), reason)
        self.path = os.fspath(path)
        self.reason = reason

    def __str__(self):
        return f"{self.path}: {self.reason}"
