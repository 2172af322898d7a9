"""What one adversarial training step of the shipped vocoder costs on this machine's CPU.

    python -m benchmarks.gan_step --threads 1,2 --batch 8 --out benchmarks/results/gan_step.md

Times the steps ``codec.train.decoder`` runs once its GAN phase starts, with the shipped generator
and freshly built discriminators (MPD + MRD, ``codec.discriminators``) on random crops of
``--batch`` x 1.28 s: the generator's forward pass, the discriminators' least-squares loss, its
backward pass and Adam step, then the generator's adversarial, feature-matching and log-mel losses,
backward and Adam step. The reference speaker encoder and data loading are left out (small next to
these). Median of ``--rounds`` after one warm-up.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    from codec.api import Codec
    from codec.discriminators import (Discriminators, discriminator_loss, feature_matching_loss,
                                      generator_adversarial_loss)
    from codec.train.decoder import MelLoss

    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        gen = Codec.from_pretrained(postfilter=False, resynth=False).decoder.train()
        disc, mel = Discriminators(), MelLoss()
        opt_g = torch.optim.AdamW(gen.parameters(), 2e-4, betas=(0.8, 0.99))
        opt_d = torch.optim.AdamW(disc.parameters(), 2e-4, betas=(0.8, 0.99))
        c = gen.config
        frames = 64  # 1.28 s of unit frames
        units = torch.randint(0, c.num_units, (args.batch, frames))
        f0 = torch.randint(0, c.num_f0, (args.batch, frames // 4))
        spk = torch.randn(args.batch, c.speaker_dim)
        real = 0.1 * torch.randn(args.batch, frames * c.unit_hop)
        times = []
        for _ in range(args.rounds + 1):
            t0 = time.perf_counter()
            fake = gen(units, f0, spk)
            opt_d.zero_grad()
            discriminator_loss(disc(real), disc(fake.detach())).backward()
            opt_d.step()
            opt_g.zero_grad()
            out_real, out_fake = disc(real), disc(fake)
            loss = generator_adversarial_loss(out_fake) + 2 * feature_matching_loss(out_real, out_fake)
            (loss + 45 * mel(fake, real)).backward()
            opt_g.step()
            times.append(time.perf_counter() - t0)
        step = float(np.median(times[1:]))
        rows.append((threads, step, sum(p.numel() for p in disc.parameters())))
        print(rows[-1], flush=True)
    lines = [
        "# One GAN training step of the vocoder, CPU",
        "",
        f"`python -m benchmarks.gan_step --threads {args.threads} --batch {args.batch}` (median of {args.rounds} "
        f"steps after a warm-up; batch {args.batch} x 1.28 s; discriminators {rows[0][2] / 1e6:.1f} M parameters). "
        "Generator forward, discriminator step, generator step with adversarial, feature-matching and log-mel losses.",
        "",
        "| threads | s per step | steps per hour | audio seconds seen per hour |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {t} | {s:.2f} | {3600 / s:.0f} | {3600 / s * args.batch * 1.28:.0f} |" for t, s, _ in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
