"""What the rest runs on: named compute backends (`backends`), the run's device (`devices`) and
the CPU threads the other processes leave free (`cpu_threads`), and the check that a build of a
kernel agrees with its reference (`kernel_check`). Imports `cuda_ext` only."""
