"""The whole short-run Langevin chain of an MLP energy in one Triton kernel (CUDA).

Each program holds a block of chains and the MLP's weights in registers and runs all K steps, the
forward pass of f, its explicit backward pass (grad f), and the update

    z <- z + (s^2 / 2) * (grad f(z) - z) * mask + noise_t,   noise_t = s * eps_t (* mask), drawn by the caller,

so one chain is one kernel launch instead of about 18 launches per step. An ensemble's members
(hebm_lib.training.ensemble) run in the same launch: the grid's second axis is the member, each with its own
z, noise and weights (every tensor with a leading member dim). The maths and the noise are
those of :func:`hebm_lib.models.samplers.langevin_mlp`; matrix products run in IEEE fp32, so the two
agree up to float rounding (tests/test_samplers.py runs this kernel in Triton's interpreter on CPU).
Up to four hidden layers (the authors' EBM has four, LEBM's two); wider or deeper nets use the loop.
"""
from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: the TorchScript loop is used
    triton = None

MAX_HIDDEN_LAYERS = 4
MAX_WIDTH = 128


def available(z: torch.Tensor, weights) -> bool:
    """Whether this kernel can run the chain of ``weights`` on ``z`` (B x D, or M x B x D for M members)."""
    import os
    on_device = z.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"
    n_hidden = len(weights) - 1
    widths = [w.shape[-2] for w, _ in weights[:-1]] + [z.shape[-1]]
    return (triton is not None and on_device and z.dtype == torch.float32 and 1 <= n_hidden <= MAX_HIDDEN_LAYERS
            and len({w.shape[-2] for w, _ in weights[:-1]}) == 1 and max(widths) <= MAX_WIDTH)


if triton is not None:
    @triton.jit
    def _leaky(a, slope):
        return tl.where(a > 0, a, a * slope)

    @triton.jit
    def _leaky_grad(g, a, slope):
        return tl.where(a > 0, g, g * slope)

    @triton.jit
    def _load_linear(w_ptr, b_ptr, rows_h, cols_in, n_out, n_in):
        """One Linear layer's W (n_out, n_in) and b, zero-padded to the block."""
        w = tl.load(w_ptr + rows_h[:, None] * n_in + cols_in[None, :],
                    mask=(rows_h[:, None] < n_out) & (cols_in[None, :] < n_in), other=0.0)
        b = tl.load(b_ptr + rows_h, mask=rows_h < n_out, other=0.0)
        return w, b

    @triton.jit
    def _forward(h, w, b):
        return tl.dot(h, tl.trans(w), input_precision="ieee") + b[None, :]

    @triton.jit
    def _chain_kernel(z_ptr, noise_ptr, mask_ptr, out_ptr,
                      w0_ptr, b0_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, w3_ptr, b3_ptr, wl_ptr,
                      B, D, H, steps, half_s2, slope, mask_member_stride,
                      N_HIDDEN: tl.constexpr, HAS_MASK: tl.constexpr,
                      BLOCK_B: tl.constexpr, DP: tl.constexpr, HP: tl.constexpr):
        pid = tl.program_id(0)
        member = tl.program_id(1)   # every tensor is contiguous with a leading member dim
        z_ptr += member * B * D
        out_ptr += member * B * D
        noise_ptr += member * steps * B * D
        mask_ptr += member * mask_member_stride
        w0_ptr += member * H * D
        w1_ptr += member * H * H
        w2_ptr += member * H * H
        w3_ptr += member * H * H
        b0_ptr += member * H
        b1_ptr += member * H
        b2_ptr += member * H
        b3_ptr += member * H
        wl_ptr += member * H
        rows = pid * BLOCK_B + tl.arange(0, BLOCK_B)
        cols_d = tl.arange(0, DP)
        cols_h = tl.arange(0, HP)
        io_mask = (rows[:, None] < B) & (cols_d[None, :] < D)
        z = tl.load(z_ptr + rows[:, None] * D + cols_d[None, :], mask=io_mask, other=0.0)
        if HAS_MASK:
            m = tl.load(mask_ptr + cols_d, mask=cols_d < D, other=0.0)
        wl = tl.load(wl_ptr + cols_h, mask=cols_h < H, other=0.0)
        w0, b0 = _load_linear(w0_ptr, b0_ptr, cols_h, cols_d, H, D)
        w1, b1 = _load_linear(w1_ptr, b1_ptr, cols_h, cols_h, H, H)
        w2, b2 = _load_linear(w2_ptr, b2_ptr, cols_h, cols_h, H, H)
        w3, b3 = _load_linear(w3_ptr, b3_ptr, cols_h, cols_h, H, H)
        for t in range(steps):
            a0 = _forward(z, w0, b0)
            h = _leaky(a0, slope)
            if N_HIDDEN >= 2:
                a1 = _forward(h, w1, b1)
                h = _leaky(a1, slope)
            if N_HIDDEN >= 3:
                a2 = _forward(h, w2, b2)
                h = _leaky(a2, slope)
            if N_HIDDEN >= 4:
                a3 = _forward(h, w3, b3)
            # backward: d f / d (last hidden activation) = w_last, then through each layer
            g = tl.zeros((BLOCK_B, HP), dtype=tl.float32) + wl[None, :]
            if N_HIDDEN >= 4:
                g = tl.dot(_leaky_grad(g, a3, slope), w3, input_precision="ieee")
            if N_HIDDEN >= 3:
                g = tl.dot(_leaky_grad(g, a2, slope), w2, input_precision="ieee")
            if N_HIDDEN >= 2:
                g = tl.dot(_leaky_grad(g, a1, slope), w1, input_precision="ieee")
            step = tl.dot(_leaky_grad(g, a0, slope), w0, input_precision="ieee") - z
            if HAS_MASK:
                step = step * m[None, :]
            noise = tl.load(noise_ptr + t * B * D + rows[:, None] * D + cols_d[None, :], mask=io_mask, other=0.0)
            z = z + half_s2 * step + noise
        tl.store(out_ptr + rows[:, None] * D + cols_d[None, :], z, mask=io_mask)


def _pow2(n: int) -> int:
    return max(16, 1 << (int(n) - 1).bit_length())


def langevin_mlp_fused(weights, z0: torch.Tensor, noise: torch.Tensor, half_s2: float, slope: float,
                       mask: torch.Tensor | None = None, block_b: int = 16, num_warps: int = 4) -> torch.Tensor:
    """The chain from ``z0`` (B x D) with pre-scaled ``noise`` (K x B x D); returns the final state. For M members:
    z0 M x B x D, noise M x K x B x D, each weight and bias with a leading M, the mask D or M x 1 x D."""
    single = z0.dim() == 2
    if single:
        z0, noise = z0.unsqueeze(0), noise.unsqueeze(0)
        weights = [(w.unsqueeze(0), None if b is None else b.unsqueeze(0)) for w, b in weights]
    M, B, D = z0.shape
    hidden = weights[:-1]
    H = hidden[0][0].shape[-2]
    ptrs = []
    for i in range(MAX_HIDDEN_LAYERS):
        w, b = hidden[min(i, len(hidden) - 1)]
        ptrs += [w.contiguous(), b.contiguous()]
    out = torch.empty_like(z0)
    mask_stride = 0 if mask is None or mask.dim() == 1 else D
    grid = (triton.cdiv(B, block_b), M)
    _chain_kernel[grid](z0.contiguous(), noise.contiguous(), mask.contiguous() if mask is not None else z0, out,
                        *ptrs, weights[-1][0].reshape(M, -1).contiguous(),
                        B, D, H, noise.shape[1], float(half_s2), float(slope), mask_stride,
                        N_HIDDEN=len(hidden), HAS_MASK=mask is not None, BLOCK_B=block_b, DP=_pow2(D), HP=_pow2(H),
                        num_warps=num_warps)
    return out[0] if single else out
