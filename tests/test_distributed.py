"""Data-parallel training (torchrun's code path) on CPU with the gloo backend."""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.training import Trainer

def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)  # same initial weights on every rank, as torch.manual_seed(seed) in train()
    cfg = get_config("mnist_ours", "smoke", {"train.batch_size": 16})
    images = torch.randint(0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    trainer = Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))
    for _ in range(3):
        trainer.step()
    torch.save({k: v.clone() for k, v in trainer.model.state_dict().items()}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_two_cpu_ranks_stay_in_sync(tmp_path):
    port = 29500 + os.getpid() % 1000
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = build_model(get_config("mnist_ours", "smoke")).state_dict()
    assert any(not torch.equal(a[k], fresh[k]) for k in a)  # they trained
