"""One exception type whose message is the one line a user sees (no traceback without --debug)."""
from __future__ import annotations


class HarnessError(Exception):
    """A problem the user can fix; the message says what to do."""


class DataMissing(HarnessError):
    """A benchmark table is not in the data dir; the message names the import/fetch command."""


class DataCorrupt(HarnessError):
    """A data file is truncated, of the wrong format or fails its checksum."""
