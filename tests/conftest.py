import pytest
import torch

from hebm_lib.configs import get_config


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
