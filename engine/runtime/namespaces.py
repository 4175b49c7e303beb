"""Put the container's init into the namespaces its config lists; an exec'd process
into those of the init.

The pid namespace is special: a process can never change its own pid namespace,
only the one its *future children* get. So :func:`fork` points the calling thread's
children at the container's pid namespace (unshare or setns), forks the init, and
points them back at once. This is safe for the caller:

* unshare/setns of CLONE_NEWPID change only ``pid_for_children`` of the calling
  thread — never its own pid namespace, and no other thread's;
* the switch back happens before fork returns in the parent (also if it fails), so
  every later child of the caller is born in the caller's namespace as before;
* the fork is Python's os.fork, so the interpreter's own after-fork handling runs
  (locks, threads), unlike a raw clone(2) from ctypes would;
* the init is a direct child of the caller, which can waitpid it.

:func:`fork_beside` does the same for a process exec'd into a running container.
Every other namespace is entered by the child itself, after the fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from engine.linux import links, syscalls
from engine.runtime.spec import NAMESPACE_FLAGS, Namespace, Spec

#: the names /proc/<pid>/ns/ gives the namespaces a container may have
_PROC_NAMES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
               "cgroup": "cgroup"}  # fmt: skip


def fork(spec: Spec) -> int:
    """os.fork, with the child born in the container's pid namespace (if it has one)."""
    pid_namespace = spec.namespace("pid")
    if pid_namespace is None:
        return os.fork()
    return _fork_in(lambda: _enter(pid_namespace))


def fork_beside(process_fd: int) -> int:
    """os.fork, with the child born in the pid namespace of another process (a pidfd)."""
    return _fork_in(lambda: syscalls.setns(process_fd, syscalls.CLONE_NEWPID))


def _fork_in(enter_pid_namespace: Callable[[], None]) -> int:
    own = os.open("/proc/thread-self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter_pid_namespace()
        pid = os.fork()
    except BaseException:
        syscalls.setns(own, syscalls.CLONE_NEWPID)
        os.close(own)
        raise
    if pid:
        syscalls.setns(own, syscalls.CLONE_NEWPID)
    os.close(own)
    return pid


def enter(spec: Spec) -> None:
    """In the init: join or create every namespace but pid (the fork made that one).

    A new cgroup namespace takes the init's current cgroup as its root, so the init
    must have joined the container's cgroup before this.
    """
    wanted = [ns for ns in spec.namespaces if ns.type != "pid"]
    for namespace in wanted:
        if namespace.path:
            _enter(namespace)
    fresh = [ns for ns in wanted if not ns.path]
    flags = 0
    for namespace in fresh:
        flags |= namespace.flag
    if flags:
        syscalls.unshare(flags)
    if any(ns.type == "network" for ns in fresh):
        # runc and Docker's "none" network alike bring loopback up in a new netns.
        links.set_up("lo")


def unshared_with(pid: int) -> int:
    """CLONE_NEW* flags of the namespaces of process ``pid`` that the caller is not in."""
    flags = 0
    for kind, name in _PROC_NAMES.items():
        if os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            flags |= NAMESPACE_FLAGS[kind]
    return flags


def join(process_fd: int, flags: int) -> None:
    """In an exec'd process: join these namespaces of another process (a pidfd) at once.

    Joining the mount namespace also moves the root and the working directory to the
    container's root. The pid namespace is not among ``flags``: the fork chose it.
    """
    if flags:
        syscalls.setns(process_fd, flags)


def _enter(namespace: Namespace) -> None:
    if not namespace.path:
        syscalls.unshare(namespace.flag)
        return
    try:
        fd = os.open(namespace.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise OSError(error.errno, f"{namespace.type} namespace {namespace.path}: "
                      f"{os.strerror(error.errno)}") from None  # fmt: skip
    try:
        syscalls.setns(fd, namespace.flag)
    finally:
        os.close(fd)
