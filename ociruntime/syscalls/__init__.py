"""The syscall layer: a thin ctypes binding to libc for what `os` lacks in Python 3.11.

`linux.LinuxSyscalls` is the real thing; `fake.FakeSyscalls` records calls for pure-logic tests.
Code that changes the kernel's view takes one of them as a parameter named `sc`.
"""
