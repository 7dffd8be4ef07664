"""What a sandbox process may do: applied by the process to itself, before it reads any plan.

In order: resource limits (address space, CPU, no file growth, few descriptors, few
processes), `PR_SET_NO_NEW_PRIVS`, an unprivileged uid when started as root, and a seccomp
filter that refuses new sockets, `execve`, forks and opening files for writing. Each layer that
this kernel or machine cannot provide is reported, never silently skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
from dataclasses import dataclass, field
from types import ModuleType


# Imported now, while this process can still read the interpreter's files: once it runs as
# an unprivileged uid, the installation (often under /root) may be out of its reach.
def _load_seccomp() -> tuple[ModuleType | None, str]:
    try:
        import pyseccomp  # libseccomp through ctypes
    except (ImportError, OSError) as exc:  # no libseccomp here: reported by confine()
        return None, str(exc)
    return pyseccomp, ""


_seccomp_module, _SECCOMP_MISSING = _load_seccomp()

_PR_SET_NO_NEW_PRIVS = 38
_CLONE_THREAD = 0x00010000
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)
_REFUSED_CALLS = (
    "execve",
    "execveat",
    "fork",
    "vfork",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kill",
    "setrlimit",
    "prlimit64",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "truncate",
    "ftruncate",
    "creat",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "io_uring_setup",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
)


@dataclass(frozen=True)
class Confinement:
    """The limits one sandbox process puts on itself."""

    memory_bytes: int
    cpu_seconds: int
    open_files: int = 64
    processes: int = 64
    uid: int | None = None
    seccomp: bool = True


@dataclass
class ConfinementReport:
    """What was applied, and what this machine could not provide."""

    applied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def confine(settings: Confinement) -> ConfinementReport:
    """Apply `settings` to this process, for good."""
    report = ConfinementReport()
    _limit(resource.RLIMIT_AS, settings.memory_bytes, "RLIMIT_AS", report)
    _limit(resource.RLIMIT_CPU, settings.cpu_seconds, "RLIMIT_CPU", report)
    _limit(resource.RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", report)
    _limit(resource.RLIMIT_NOFILE, settings.open_files, "RLIMIT_NOFILE", report)
    _limit(resource.RLIMIT_CORE, 0, "RLIMIT_CORE", report)
    if settings.uid is not None:
        # Counted per uid: meaningful only once this process has a uid of its own.
        _limit(resource.RLIMIT_NPROC, settings.processes, "RLIMIT_NPROC", report)
        os.setgroups([])
        os.setresgid(settings.uid, settings.uid, settings.uid)
        os.setresuid(settings.uid, settings.uid, settings.uid)
        report.applied.append(f"uid {settings.uid}")
    else:
        report.missing.append("an unprivileged uid (the worker is not root)")
    _no_new_privs(report)
    if settings.seccomp:
        _seccomp(report)
    return report


def _limit(which: int, value: int, name: str, report: ConfinementReport) -> None:
    try:
        resource.setrlimit(which, (value, value))
        report.applied.append(f"{name}={value}")
    except (ValueError, OSError) as exc:
        report.missing.append(f"{name} ({exc})")


def _no_new_privs(report: ConfinementReport) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl failed")
        report.applied.append("PR_SET_NO_NEW_PRIVS")
    except (OSError, AttributeError) as exc:
        report.missing.append(f"PR_SET_NO_NEW_PRIVS ({exc})")


def _seccomp(report: ConfinementReport) -> None:
    seccomp = _seccomp_module
    if seccomp is None:
        report.missing.append(f"seccomp (pyseccomp or libseccomp unavailable: {_SECCOMP_MISSING})")
        return
    try:
        refuse = seccomp.ERRNO(errno.EPERM)
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in _REFUSED_CALLS:
            with contextlib.suppress(RuntimeError, ValueError, OSError):
                rules.add_rule(refuse, name)  # unless this architecture lacks the call
        # Threads yes, processes no; clone3 hides its flags, so glibc is sent back to clone.
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        for flag in _WRITE_FLAGS:
            rules.add_rule(refuse, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
            rules.add_rule(refuse, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(refuse, "openat2")
        rules.load()
        report.applied.append("seccomp")
    except Exception as exc:  # a kernel without seccomp: say so, run without it
        report.missing.append(f"seccomp ({type(exc).__name__}: {exc})")
