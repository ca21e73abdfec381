"""Verified, atomic downloads: a temp file in the destination folder, sha256
checked, fsync'd, then renamed over the final name.

Every network wait has a timeout; every failure (offline, HTTP error,
connection closed mid-body, checksum mismatch, disk full) is one
:class:`DownloadError` line and leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from camera_app import __version__
from camera_app.errors import CameraAppError, RunError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
MAX_UNKNOWN_BYTES = 512 << 20
"""Cap on a download whose size the catalogue does not give."""
DEFAULT_TIMEOUT_S = 30.0

Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes_or_None)``, called as bytes arrive."""


class DownloadError(RunError):
    """A model or labels file that could not be fetched, verified or written
    (offline, HTTP error, cut short, checksum mismatch, disk full): exit 1."""


class DestinationError(CameraAppError):
    """The destination cannot take the file (a different file in the way, a
    folder that cannot be created or written): exit 2, nothing was fetched."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _network_error(url: str, e: BaseException, timeout_s: float) -> DownloadError:
    """One line for why ``url`` could not be fetched."""
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    host = _host(url)
    if isinstance(reason, socket.gaierror):
        why = f"cannot resolve {host} (offline, or no DNS?)"
    elif isinstance(reason, ConnectionRefusedError):
        why = f"{host} refused the connection"
    elif isinstance(reason, TimeoutError | socket.timeout):
        why = f"no answer from {host} within {timeout_s:g} s"
    elif isinstance(reason, OSError):
        why = f"cannot reach {host}: {reason.strerror or reason}"
    else:
        why = f"cannot reach {host}: {reason}"
    return DownloadError(f"{why} ({url})")


def _disk_error(where: Path, e: OSError) -> DownloadError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError(f"disk full writing {where} ({e.strerror}); free some space")
    return DownloadError(f"cannot write {where}: {e.strerror or e}")


@contextlib.contextmanager
def temp_file(dest_dir: Path, name: str) -> Iterator[Path]:
    """A hidden temp file beside the final one, removed unless renamed away."""
    try:
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_error(dest_dir, e) from e
        raise DestinationError(f"cannot write to {dest_dir}: {e.strerror or e}") from e
    os.close(fd)
    path = Path(tmp)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def fetch(
    url: str,
    out: Path,
    *,
    expected_size: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> str:
    """Write the body of ``url`` to ``out`` (fsync'd) and return its sha256.

    The body must be complete: as long as its Content-Length and, when given,
    ``expected_size``; a connection closed early is an error."""
    request = urllib.request.Request(url, headers={"User-Agent": f"camera-app/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"HTTP {e.code} {e.reason} from {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _network_error(url, e, timeout_s) from e
    digest = hashlib.sha256()
    done = 0
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and expected_size is not None and total != expected_size:
            raise DownloadError(
                f"{url} is {total} bytes, expected {expected_size}: not the catalogued file"
            )
        limit = expected_size or total or MAX_UNKNOWN_BYTES
        try:
            f = out.open("wb")
        except OSError as e:
            raise _disk_error(out.parent, e) from e
        with f:
            while True:
                try:
                    chunk = response.read1(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as e:
                    raise DownloadError(
                        f"download interrupted after {done} bytes: {_reason(e, timeout_s)} ({url})"
                    ) from e
                if not chunk:
                    break
                done += len(chunk)
                if done > limit:
                    raise DownloadError(f"{url} sent more than the expected {limit} bytes")
                digest.update(chunk)
                try:
                    f.write(chunk)
                except OSError as e:
                    raise _disk_error(out.parent, e) from e
                if progress is not None:
                    progress(done, total or expected_size)
            try:
                f.flush()
                os.fsync(f.fileno())
            except OSError as e:
                raise _disk_error(out.parent, e) from e
    want = total if total is not None else expected_size
    if want is not None and done < want:
        raise DownloadError(
            f"download interrupted: connection closed after {done} of {want} bytes ({url})"
        )
    return digest.hexdigest()


def _reason(e: BaseException, timeout_s: float) -> str:
    if isinstance(e, TimeoutError | socket.timeout):
        return f"no data for {timeout_s:g} s"
    if isinstance(e, http.client.IncompleteRead):
        return "connection closed"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def extract_member(archive: Path, member: str, out: Path, max_bytes: int) -> str:
    """Copy ``member`` of a zip (or wheel) to ``out`` (fsync'd); return its sha256."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise DownloadError(f"the downloaded archive has no {member}") from None
            if info.file_size > max_bytes:
                raise DownloadError(f"{member} is {info.file_size} bytes, expected {max_bytes}")
            with zf.open(info) as src, out.open("wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    try:
                        dst.write(chunk)
                    except OSError as e:
                        raise _disk_error(out.parent, e) from e
                try:
                    dst.flush()
                    os.fsync(dst.fileno())
                except OSError as e:
                    raise _disk_error(out.parent, e) from e
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise DownloadError(f"the downloaded archive is not a valid zip: {e}") from e
    return digest.hexdigest()


def check_sha256(what: str, got: str, want: str) -> None:
    if got != want:
        raise DownloadError(f"{what}: sha256 mismatch: got {got}, expected {want}; file discarded")


def install(tmp: Path, dest: Path, *, replace: bool) -> None:
    """Rename the verified ``tmp`` to ``dest`` (readable by all: models are not
    secrets) and fsync the folder. Without ``replace`` an existing ``dest``
    is never overwritten."""
    try:
        os.chmod(tmp, 0o644)
        if replace:
            os.replace(tmp, dest)
        else:
            _install_new(tmp, dest)
    except FileExistsError:
        raise DestinationError(f"{dest} appeared while downloading; not overwriting it") from None
    except OSError as e:
        raise _disk_error(dest.parent, e) from e
    fsync_dir(dest.parent)


def _install_new(tmp: Path, dest: Path) -> None:
    """link + unlink fails with EEXIST instead of replacing ``dest``; where
    the filesystem has no hard links (FAT), check then rename."""
    try:
        os.link(tmp, dest)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
        if dest.exists():
            raise FileExistsError(dest) from e
        os.replace(tmp, dest)
    else:
        tmp.unlink()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems refuse fsync on a folder
        log.debug("fsync %s: %s", path, e)
    finally:
        os.close(fd)
