import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from hebm_lib.configs import get_config


def pytest_configure(config):
    # SIGTERM (a CI runner's timeout, `kill`) ends pytest as Ctrl-C does, through every finally and fixture
    # teardown, so that the processes a test started are ended too (SIGTERM's default ends it on the spot)
    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def tiny_cfg():
    """A seconds-long EBM config on random 28x28 images."""
    return get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 8,
                                              "train.checkpoint_every": 2})


@pytest.fixture
def tiny_images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (64, 1, 28, 28), generator=g, dtype=torch.uint8)


class Interrupt(Exception):
    """A test's stand-in for a crash, raised from a training callback."""


def interrupt_at(iteration: int):
    """A train / train_ensemble callback that dies after ``iteration`` (the checkpoints written before it stay)."""
    def callback(trainer, stats):
        if trainer.iteration == iteration:
            raise Interrupt
    return callback


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (zombies are dead: they hold nothing)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):   # gone meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


class Processes:
    """The processes a test starts, each in a process group (a session) of its own, so that the group holds
    everything it starts in turn (submitit's local jobs, a notebook's kernel's children): ``end`` kills every group
    and waits until none of their processes is left."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, cmd, **kw) -> subprocess.Popen:
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.started.append(proc)
        return proc

    def run(self, cmd, timeout: float, **kw) -> subprocess.CompletedProcess:
        """subprocess.run(cmd, capture_output=True, text=True), its group ended with it whatever happens."""
        proc = self.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            self.kill(proc)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def kill(self, proc: subprocess.Popen, wait_s: float = 60) -> None:
        with_children = time.monotonic() + wait_s
        while True:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait()
            left = group_members(proc.pid)
            if not left:
                return
            if time.monotonic() > with_children:
                raise RuntimeError(f"processes {left} of group {proc.pid} survive SIGKILL")
            time.sleep(0.1)

    def end(self) -> None:
        for proc in self.started:
            self.kill(proc)


@pytest.fixture
def processes():
    """Start a test's commands with ``processes.start(cmd, ...)`` / ``processes.run(cmd, timeout=...)``: whatever
    happens (a failed assert, a timeout, Ctrl-C or SIGTERM to pytest), every process they started is killed."""
    started = Processes()
    try:
        yield started
    finally:
        started.end()
