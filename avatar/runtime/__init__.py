"""What the rest runs on: named compute backends (`backends`), the run's device (`devices`) and
the CPU threads the other processes leave free (`cpu_threads`), and the check that a build of a
kernel agrees with its reference (`kernel_check`), and `InputError`, the base of every exception that
means bad input (`errors`). Imports `cuda_ext` only."""
