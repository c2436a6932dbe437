"""`ThreadBudget`: the CPU thread count follows the cores other processes leave free."""

import torch

from avatar.runtime import cpu_threads
from avatar.runtime.cpu_threads import ThreadBudget, read_cpu_ticks


class _Machine:
    """A 2-core machine whose /proc/stat and own CPU time the test advances by hand."""

    def __init__(self):
        self.time, self.busy, self.total, self.own = 0.0, 0, 0, 0

    def run(self, seconds: float, own_cores: float, other_cores: float, hz: int = 100):
        self.time += seconds
        self.total += int(2 * seconds * hz)
        self.busy += int((own_cores + other_cores) * seconds * hz)
        self.own += int(own_cores * seconds * hz)

    def budget(self) -> ThreadBudget:
        return ThreadBudget(interval=0.5, cpu_ticks=lambda: (self.busy, self.total), own_ticks=lambda: self.own,
                            clock=lambda: self.time, cores=2)


def test_threads_drop_beside_a_busy_process_and_come_back(monkeypatch):
    monkeypatch.setattr(cpu_threads, "MOST_THREADS", 2)
    monkeypatch.delenv(cpu_threads.FIXED_VARIABLE, raising=False)
    before = torch.get_num_threads()
    try:
        machine = _Machine()
        budget = machine.budget()
        assert torch.get_num_threads() == 2  # every budget starts from the full count
        machine.run(1.0, own_cores=2.0, other_cores=0.0)
        assert budget.update() == 2  # alone: both cores
        machine.run(1.0, own_cores=1.1, other_cores=0.9)
        assert budget.update() == 1  # another process takes about a core
        machine.run(0.2, own_cores=1.0, other_cores=1.0)
        assert budget.update() == 1  # too soon to look again: unchanged
        machine.run(1.0, own_cores=1.0, other_cores=0.0)
        assert budget.update() == 2  # it stopped
        machine.run(1.0, own_cores=2.0, other_cores=0.2)
        assert budget.update() == 2  # a little background noise does not cost a thread
    finally:
        torch.set_num_threads(before)


def test_a_fixed_count_and_a_machine_without_proc_stat(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(cpu_threads.FIXED_VARIABLE, "1")
        machine = _Machine()
        budget = machine.budget()
        machine.run(1.0, own_cores=0.0, other_cores=0.0)
        assert budget.update() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv(cpu_threads.FIXED_VARIABLE)
        blind = ThreadBudget(cpu_ticks=lambda: None, clock=lambda: 1e9)
        assert blind.update() == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_proc_stat_reads_as_busy_and_total_ticks():
    ticks = read_cpu_ticks()
    if ticks is None:
        return  # not Linux: the budget leaves the threads alone (tested above)
    busy, total = ticks
    assert 0 <= busy <= total and total > 0
