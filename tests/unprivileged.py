"""Running a process as a container's unprivileged user on this machine, for tests run as root:
uid/gid 10001 (the image's user), a code tree nobody but root can change, and a way to list
what that user wrote.
"""
from __future__ import annotations

import os
from pathlib import Path


POD_UID = POD_GID = 10001


def read_only_tree(source_root: Path, destination: Path, packages=("sanic_app", "fastpack")) -> Path:
    """A copy of the packages (compiled extensions and generated protos included) that nobody
    but root may change: what an image layer is to the container's user."""
    import shutil

    for package in packages:
        shutil.copytree(source_root / package, destination / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in sorted(destination.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    destination.chmod(0o555)
    return destination


def _others_may_run(python: str) -> bool:
    """Every directory on the way to the real interpreter (and its stdlib) lets others pass."""
    import stat
    import sysconfig

    for target in (os.path.realpath(python), sysconfig.get_paths()["stdlib"]):
        path = Path(target)
        for directory in list(path.parents)[:-1]:
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                return False
    return True


def as_pod_user(python: str) -> list[str]:
    """A command prefix running as uid/gid 10001 with no supplementary groups and no privileges.

    Where the interpreter sits in a directory other users cannot enter (pyenv under /root on
    this machine), the one capability CAP_DAC_READ_SEARCH is kept, ambient: it lets the user
    read and traverse, never write, so what the test shows about writes still holds.
    """
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise FileNotFoundError("setpriv (util-linux) is needed to drop to an unprivileged user")
    base = [setpriv, f"--reuid={POD_UID}", f"--regid={POD_GID}", "--clear-groups"]
    if _others_may_run(python):
        return base
    return base + ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


def files_owned_by(uid: int, roots: list[Path]) -> list[str]:
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    if os.lstat(path).st_uid == uid:
                        found.append(path)
                except OSError:
                    pass
    return found
