"""The library's exceptions, at the bottom with paths: a command's bad input is one line and an exit status
(hebm_lib.cli), and that must not wait for torch to import. Each is raised by the layer named beside it, and
importable from there too."""
from __future__ import annotations


class UsageError(Exception):
    """A bad name or value from the user: reported in one line, exit status 2 (hebm_lib.runs.execute)."""


class NotebookFailed(Exception):
    """A notebook of `run-all --jobs` raised: reported in one line with its log's place, exit status 1
    (hebm_lib.runs.execute)."""


class SettingError(ValueError):
    """A bad value of an option or an environment variable (HEBM_TRAIN_MODE, HEBM_ENSEMBLE) found below the
    command line: one line naming it and its valid values, exit status 2, as the command's own options (hebm_lib.io)."""


class UnreadableFile(RuntimeError):
    """A saved file that cannot be read (truncated, say); the message names the file and the fix (hebm_lib.io)."""


class DataError(RuntimeError):
    """Missing, corrupt or malformed data, with the fix in the message. ``corrupt``: the file is there but is not
    what data/checksums.json records (fetching must not pass over it) (hebm_lib.data)."""

    def __init__(self, message: str, corrupt: bool = False):
        super().__init__(message)
        self.corrupt = corrupt


class TrainingDiverged(RuntimeError):
    """Loss or energy went non-finite or exploded; the last good checkpoint is kept (hebm_lib.training)."""


class TrainingStopped(Exception):
    """A deadline passed or the process was asked to stop (SIGTERM, Ctrl-C); a checkpoint of the current
    state was written, and the same call resumes it (hebm_lib.training)."""
