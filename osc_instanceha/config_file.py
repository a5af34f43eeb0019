"""Rewrite a config file the way an operator expects an edit to behave.

The monitor's config holds ``[api] password``: it is typically mode 0600,
owned by root, and sometimes a symlink into a config-management tree.  A
rewrite keeps all three: the symlink is followed and the file it points
to is replaced; the new file gets the old one's mode and owner whatever
the umask; it is written next to the target, flushed to disk and renamed
over it, so a reader (the monitor reloading on SIGHUP) sees the old or the
new file, never half of one.
"""
import contextlib
import os
import stat
import tempfile
from pathlib import Path


def replace(path, text, check=None):
    """Replace the contents of ``path`` (following symlinks) with ``text``.

    ``check(candidate_path)`` runs on the new file before it takes the
    target's place (it is then only readable by its owner); if it raises,
    the target is left untouched and the exception propagates.
    """
    target = Path(os.path.realpath(path))
    before = target.stat()
    descriptor, candidate = tempfile.mkstemp(
        dir=target.parent, prefix=".%s." % target.name, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
            stream.flush()
            if check is not None:
                check(candidate)
            os.fchown(stream.fileno(), before.st_uid, before.st_gid)
            os.fchmod(stream.fileno(), stat.S_IMODE(before.st_mode))
            os.fsync(stream.fileno())
        os.replace(candidate, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(candidate)
        raise
    _fsync_directory(target.parent)
    return target


def _fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
