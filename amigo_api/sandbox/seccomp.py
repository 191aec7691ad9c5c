"""The system-call filter of every run (bubblewrap's `--seccomp FD`), built with libseccomp (`pyseccomp` over the
system's `libseccomp.so.2`).

Everything is allowed but what tool code has no business doing, refused with the kernel's own error (EPERM, as if
the run lacked the capability): the kernel keyring, which is shared by every process of a uid across runs; new
namespaces (`unshare`, `setns`, and `clone` with a namespace flag; `clone3` answers ENOSYS, so that the C library
falls back to `clone`, whose flags a filter can read); mounting; tracing and other processes' memory; eBPF, perf
events and userfaultfd; kernel modules, kexec, reboot, swap; setting clocks; `personality` other than the query;
and the rest of Docker's default denials that apply to an unprivileged process. System calls of another
architecture (a 32-bit call on a 64-bit kernel) kill the run. The filter is loaded by bubblewrap before it runs
`setpriv`, which needs none of these."""

import contextlib
import errno
import functools
import tempfile

import pyseccomp as seccomp

NAMESPACE_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
QUERY_PERSONALITY = 0xFFFFFFFF
DENIED = (
    "add_key", "request_key", "keyctl",
    "unshare", "setns",
    "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "chroot",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init", "lookup_dcookie",
    "init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms", "query_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "settimeofday", "stime", "clock_settime", "clock_adjtime",
    "acct", "quotactl", "nfsservctl", "syslog", "vhangup", "uselib", "ustat", "sysfs", "_sysctl",
    "iopl", "ioperm", "vm86", "vm86old", "open_by_handle_at", "name_to_handle_at",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "sethostname", "setdomainname",
)


def _deny(syscall_filter: seccomp.SyscallFilter, name: str, action: int, *args: seccomp.Arg) -> None:
    with contextlib.suppress(ValueError, RuntimeError, OSError):  # not a system call of this architecture
        syscall_filter.add_rule(action, name, *args)


@functools.cache
def filter_program() -> bytes:
    """The compiled BPF program, built once per process."""
    syscall_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    refused = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        _deny(syscall_filter, name, refused)
    for flag in NAMESPACE_FLAGS:
        _deny(syscall_filter, "clone", refused, seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    _deny(syscall_filter, "clone3", seccomp.ERRNO(errno.ENOSYS))
    _deny(syscall_filter, "personality", refused, seccomp.Arg(0, seccomp.NE, QUERY_PERSONALITY))
    with tempfile.TemporaryFile() as program:
        syscall_filter.export_bpf(program)
        program.seek(0)
        return program.read()
