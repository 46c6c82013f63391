"""The runtime-spec's seccomp vocabulary and its kernel/libseccomp values (pure data).

Values are those of <seccomp.h> (libseccomp) and <linux/seccomp.h>.
"""

from __future__ import annotations

# SCMP_ACT_* without their errno data. runc maps SCMP_ACT_KILL to KILL_THREAD, as libseccomp does.
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
# The only actions that carry a return code; the spec says an errnoRet on any other is an error.
ERRNO_ACTIONS = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")

# Names in /proc/sys/kernel/seccomp/actions_avail, to report only what the kernel does.
KERNEL_ACTION = {
    "SCMP_ACT_KILL": "kill_thread", "SCMP_ACT_KILL_THREAD": "kill_thread",
    "SCMP_ACT_KILL_PROCESS": "kill_process", "SCMP_ACT_TRAP": "trap", "SCMP_ACT_ERRNO": "errno",
    "SCMP_ACT_TRACE": "trace", "SCMP_ACT_LOG": "log", "SCMP_ACT_ALLOW": "allow",
    "SCMP_ACT_NOTIFY": "user_notif",
}

OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")

# Every SeccompArch of the spec; libseccomp's name is the lower-cased suffix (as crun resolves it).
ARCHS = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
         "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
         "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
         "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
         "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")


def libseccomp_arch(spec_name: str) -> str:
    return spec_name[len("SCMP_ARCH_"):].lower()


# seccomp(2) SECCOMP_SET_MODE_FILTER flags.
FLAG_TSYNC = 1 << 0
FLAG_LOG = 1 << 1
FLAG_SPEC_ALLOW = 1 << 2
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4
FLAG_WAIT_KILLABLE_RECV = 1 << 5

FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_RET_ERRNO = 0x00050000

# AUDIT_ARCH_X86_64; x32 shares it and sets bit 30 of the syscall number (__X32_SYSCALL_BIT).
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
