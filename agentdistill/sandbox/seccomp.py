"""A seccomp-BPF deny-list for the local backend, generated in pure Python (no libseccomp needed).

bubblewrap loads it with ``--seccomp FD`` right before it starts the worker. Namespaces already remove
the network and the host's files; the filter closes the kernel interfaces that sandbox escapes and
host attacks go through (mount, ptrace, bpf, keyrings, module loading, new namespaces, io_uring, TIOCSTI...),
returning EPERM so that model code sees an ordinary error. Other architectures are killed outright.
"""

from __future__ import annotations

import errno
import platform
import struct

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16  # struct seccomp_data; args are u64, low half first (LE)

# New-namespace flags of clone(2): CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NS_FLAGS = (
    0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)
TIOCSTI, TIOCLINUX = 0x5412, 0x541C

DENIED = [
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "quotactl",
    "quotactl_fd",
    "nfsservctl",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "syslog",
    "vhangup",
    "personality",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "fanotify_init",
    "mbind",
    "set_mempolicy",
    "migrate_pages",
    "move_pages",
    "iopl",
    "ioperm",
    "modify_ldt",
    "uselib",
    "_sysctl",
]

# Syscall numbers of the calls named above plus clone, clone3 and ioctl, as "name:nr" per architecture.
_TABLES = {
    "x86_64": (
        0xC000003E,
        "mount:165 umount2:166 pivot_root:155 chroot:161 swapon:167 swapoff:168 reboot:169 "
        "sethostname:170 setdomainname:171 init_module:175 finit_module:313 delete_module:176 "
        "kexec_load:246 kexec_file_load:320 quotactl:179 quotactl_fd:443 nfsservctl:180 acct:163 "
        "settimeofday:164 clock_settime:227 clock_adjtime:305 adjtimex:159 ptrace:101 "
        "process_vm_readv:310 process_vm_writev:311 kcmp:312 bpf:321 perf_event_open:298 "
        "userfaultfd:323 keyctl:250 add_key:248 request_key:249 unshare:272 setns:308 "
        "lookup_dcookie:212 open_by_handle_at:304 name_to_handle_at:303 syslog:103 vhangup:153 "
        "personality:135 io_uring_setup:425 io_uring_enter:426 io_uring_register:427 open_tree:428 "
        "move_mount:429 fsopen:430 fsconfig:431 fsmount:432 fspick:433 mount_setattr:442 "
        "fanotify_init:300 mbind:237 set_mempolicy:238 migrate_pages:256 move_pages:279 iopl:172 "
        "ioperm:173 modify_ldt:154 uselib:134 _sysctl:156 clone:56 clone3:435 ioctl:16",
    ),
    "aarch64": (
        0xC00000B7,
        "mount:40 umount2:39 pivot_root:41 chroot:51 swapon:224 swapoff:225 reboot:142 "
        "sethostname:161 setdomainname:162 init_module:105 finit_module:273 delete_module:106 "
        "kexec_load:104 kexec_file_load:294 quotactl:60 quotactl_fd:443 nfsservctl:42 acct:89 "
        "settimeofday:170 clock_settime:112 clock_adjtime:266 adjtimex:171 ptrace:117 "
        "process_vm_readv:270 process_vm_writev:271 kcmp:272 bpf:280 perf_event_open:241 "
        "userfaultfd:282 keyctl:219 add_key:217 request_key:218 unshare:97 setns:268 "
        "lookup_dcookie:18 open_by_handle_at:265 name_to_handle_at:264 syslog:116 vhangup:58 "
        "personality:92 io_uring_setup:425 io_uring_enter:426 io_uring_register:427 open_tree:428 "
        "move_mount:429 fsopen:430 fsconfig:431 fsmount:432 fspick:433 mount_setattr:442 "
        "fanotify_init:262 mbind:235 set_mempolicy:237 migrate_pages:238 move_pages:239 clone:220 "
        "clone3:435 ioctl:29",
    ),
}
ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    arch: (audit, {k: int(v) for k, _, v in (item.partition(":") for item in table.split())})
    for arch, (audit, table) in _TABLES.items()
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program (array of ``struct sock_filter``) for this machine's architecture."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise ValueError(f"no seccomp syscall table for {machine!r} (supported: {', '.join(ARCHES)})")
    audit_arch, nr = ARCHES[machine]
    eperm = RET_ERRNO | errno.EPERM
    prog = [
        _insn(_LD_W_ABS, _OFF_ARCH),
        _insn(_JEQ_K, audit_arch, jt=1),
        _insn(_RET_K, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _OFF_NR),
    ]
    if machine == "x86_64":  # x32 ABI numbers alias the real ones: refuse them all
        prog += [_insn(_JGE_K, 0x40000000, jf=1), _insn(_RET_K, eperm)]
    for name in DENIED:
        if name in nr:
            prog += [_insn(_JEQ_K, nr[name], jf=1), _insn(_RET_K, eperm)]
    # clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc fall back to clone.
    prog += [_insn(_JEQ_K, nr["clone3"], jf=1), _insn(_RET_K, RET_ERRNO | errno.ENOSYS)]
    # clone: refuse new namespaces (flags are argument 0).
    prog += [
        _insn(_JEQ_K, nr["clone"], jf=4),
        _insn(_LD_W_ABS, _OFF_ARGS),
        _insn(_JSET_K, CLONE_NS_FLAGS, jf=1),
        _insn(_RET_K, eperm),
        _insn(_RET_K, RET_ALLOW),
    ]
    # ioctl: refuse terminal input injection (argument 1 is the request).
    prog += [
        _insn(_JEQ_K, nr["ioctl"], jf=5),
        _insn(_LD_W_ABS, _OFF_ARGS + 8),
        _insn(_JEQ_K, TIOCSTI, jt=2),
        _insn(_JEQ_K, TIOCLINUX, jt=1),
        _insn(_RET_K, RET_ALLOW),
        _insn(_RET_K, eperm),
    ]
    prog.append(_insn(_RET_K, RET_ALLOW))
    return b"".join(prog)
