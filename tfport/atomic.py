"""Write outputs so that nobody ever sees half of one, and never clobber what tfport did not write."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tfport.errors import BadInputError

OWNER_MARK = ".tfport"  # present in every directory tfport writes
LOCK_FILE = ".tfport.lock"


def claim_directory(path: Path) -> None:
    """Make `path` a tfport output directory, refusing one that holds someone else's files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path} exists and is not a directory — choose another --out")
    if path.is_dir() and any(path.iterdir()) and not (path / OWNER_MARK).exists():
        raise BadInputError(
            f"{path} already exists and was not written by tfport — choose another --out "
            "or empty it yourself"
        )
    with _disk_errors(path):
        path.mkdir(parents=True, exist_ok=True)
        (path / OWNER_MARK).touch()


@contextlib.contextmanager
def exclusive(directory: Path, waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold the directory's lock, so two runs writing one out directory take turns."""
    with open(Path(directory) / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting(f"waiting for another tfport run writing {directory}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(directory: Path) -> list[str]:
    """Staging and retired directories a killed run left behind; call it holding the lock."""
    leftovers = [p for p in Path(directory).glob(".*") if ".partial-" in p.name or ".old-" in p.name]
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return [p.name for p in leftovers]


@contextlib.contextmanager
def staged_directory(final: Path, replace: bool = True) -> Iterator[Path]:
    """Yield an empty staging directory beside `final`; on success it replaces `final` whole.

    With `replace=False` an existing `final` is kept and the move fails (OSError): for shared
    caches, where a run may be reading the directory another run would replace."""
    final = Path(final)
    if final.exists():
        claim_directory(final)
    with _disk_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
        staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would make the result private
    try:
        with _disk_errors(final):
            yield staging
            (staging / OWNER_MARK).touch()
            staging.rename(final) if not replace else _swap_into_place(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_into_place(staging: Path, final: Path) -> None:
    if not final.exists():
        staging.rename(final)
        return
    retired = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    final.rename(retired)
    staging.rename(final)
    retire(retired)


def retire(path: Path) -> None:
    """Remove a file or directory so that nobody sees half of it: renamed first, then deleted.
    Already gone (another run retired it) is fine."""
    path = Path(path)
    retired = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(retired)
    except FileNotFoundError:
        return
    shutil.rmtree(retired, ignore_errors=True) if retired.is_dir() else retired.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    path = Path(path)
    with _disk_errors(path):
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would make reports private
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def _disk_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BadInputError(f"no space left on the disk while writing {path} — free some space") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise BadInputError(f"cannot write {path}: {exc.strerror} — choose another --out") from None
        raise
