"""Files only root reads: the state directory, the store, forensics.

The store holds which instances run here and the outbox; forensics hold
console tails, which can carry passwords cloud-init printed.  Modes are
set explicitly (0700 directories, 0600 files), whatever the umask.
"""
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path):
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def touch(path):
    """Create ``path`` 0600 if missing, and make it 0600 if it is not."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_bytes(path, data):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC,
                 FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_text(path, text):
    write_bytes(path, text.encode())
