"""The bottom of the library: atomic file writes, device resolution, the code hash, git state.

Nothing here imports the rest of hebm_lib, so every layer may use it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import torch

from . import paths
from .errors import SettingError, UnreadableFile   # raised here; defined where a command reads them

# the library folders whose code changes what a trained model is (part of the model-cache key)
TRAINING_CODE = ("models", "training", "distributions.py")


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(file)`` to a temporary file in the same folder, fsync, rename over ``path``.
    On any failure the temporary file is removed and ``path`` is left as it was; a disk error names ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:   # a full disk, a signal: no .tmp file left behind
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        disk = _os_error(exc)
        if disk is None:
            raise
        if disk.filename in (None, str(tmp)):   # a failed write() names no file; the temp name means nothing
            disk.filename = str(path)
        if disk is exc:
            raise
        raise disk from None   # torch.save reports a short write as RuntimeError('unexpected pos'), the OSError its context


# a writer that swallows one of these (torch.save does) failed because of the disk, not the object written
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def _os_error(exc: BaseException) -> OSError | None:
    """``exc`` if it is an OSError, else the disk error it was raised while handling (if any)."""
    if isinstance(exc, OSError):
        return exc
    while exc is not None:
        exc = exc.__cause__ or exc.__context__
        if isinstance(exc, OSError):
            return exc if exc.errno in _DISK_ERRNOS else None
    return None


TEMP_FILE = re.compile(r"\..+\.tmp(\d+)")   # _atomic_write's temporary files, by the process that writes them


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's
        return True
    return True


def remove_orphans(folder: Path, pattern: str, owner: re.Pattern) -> None:
    """The files and folders of ``folder`` named like ``pattern`` whose process (``owner``'s first group of the
    name) is gone: what a process killed by SIGKILL, which no cleanup sees, left behind."""
    for path in Path(folder).glob(pattern):
        found = owner.fullmatch(path.name)
        if found and not process_exists(int(found.group(1))):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def atomic_save(obj, path: Path) -> None:
    """torch.save that never leaves a half-written file behind."""
    _atomic_write(path, lambda f: torch.save(obj, f))


def torch_load(path: Path, fix: str, map_location="cpu"):
    """torch.load, whose reader errors name no file, with one line naming ``path`` and ``fix`` instead."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, KeyError, ValueError, AttributeError) as exc:
        first = (str(exc).splitlines() or [""])[0][:120]
        raise UnreadableFile(f"{path} cannot be read ({type(exc).__name__}: {first}); {fix}") from None


def atomic_save_numpy(array, path: Path) -> None:
    """np.save that never leaves a half-written file behind."""
    import numpy as np
    _atomic_write(path, lambda f: np.save(f, array))


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive advisory lock on ``path`` (created if absent) for the block: two processes
    building the same cached thing (a model, a feature net) take turns, and the second finds it made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda f: f.write(data))


def code_hash() -> str:
    """Hash of the library code that changes what training produces."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for entry in TRAINING_CODE:
        p = root / entry
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto' -> cuda when present, else cpu; an unavailable device is an error, never a fallback."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; valid: auto, cpu, cuda, cuda:N")
    return dev


def device_name(device: torch.device) -> str:
    """What the device is, in words (the GPU's name, or the CPU's architecture)."""
    import platform
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def git_state() -> dict:
    """The commit the code was run from, and whether tracked files had uncommitted changes. The stored
    results under results/ are left out: re-storing a run rewrites its own tracked outputs as it goes."""
    if not paths.IS_CHECKOUT:   # an installed wheel: the current directory's repository is not this code's
        from importlib.metadata import PackageNotFoundError, version
        try:
            return {"commit": f"unknown (installed hebm-lib {version('hebm-lib')})", "dirty": False}
        except PackageNotFoundError:
            return {"commit": "unknown", "dirty": False}

    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": run("rev-parse", "HEAD") or "unknown",
            "dirty": bool(run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"))}
