"""A complete model bundle of tiny, untrained models, for end-to-end tests of the API and CLI."""

import numpy as np
import torch

from bitstream import EntropyTables, Profile, fit_stream_tables
from codec.bundle import BundleConfig, save_bundle
from codec.content import ContentConfig, ContentEncoder
from codec.decoder import Decoder, DecoderConfig
from codec.f0vq import F0VQConfig, F0VQVAE
from codec.speaker import SpeakerConfig, SpeakerEncoder


def make_tiny_bundle(folder, seed: int = 0, pitch_stats: bool = False, envelope: bool = False) -> int:
    """Write the bundle; ``envelope`` gives it an envelope layer (4 bands, 6 random codes, a table
    fitted on random codes), which makes it a model of format 1.4 files."""
    torch.manual_seed(seed)
    content = ContentEncoder(ContentConfig(channels=16, layers=1, num_units=7))
    f0vq = F0VQVAE(F0VQConfig(codebook_size=5, hidden=8, code_dim=4))
    num_f0 = f0vq.config.num_codes
    speaker = SpeakerEncoder(SpeakerConfig(channels=8, layers=1, dim=16, groups=4, codebook_size=8, num_speakers=3))
    speaker.codebooks.normal_()
    speaker.table.normal_()
    decoder = Decoder(DecoderConfig(num_units=7, num_f0=num_f0, speaker_dim=16, embed_dim=8, channels=16,
                                    intermediate=32, layers=1, pitch_stats=pitch_stats))
    if pitch_stats:  # a fresh projection is zero (neutral); make the statistics matter
        for p in decoder.pitch_proj.parameters():
            torch.nn.init.normal_(p, std=0.5)
    rng = np.random.default_rng(seed)
    tables = EntropyTables(
        fit_stream_tables([rng.integers(0, 7, 300)], 7, packet_frames=100),
        fit_stream_tables([rng.integers(0, num_f0, 80)], num_f0, "frame", packet_frames=25),
        Profile(speaker_ids=3, speaker_codebook=8, speaker_length=4),
    )
    env = None
    if envelope:
        codebook = np.round(rng.normal(0.0, 4.0, (6, 4)), 3)
        codebook[0] = 0.0
        env = dict(bands=4, codebook=codebook.tolist())
        tables = tables.with_envelope(fit_stream_tables([rng.integers(0, 6, 200)], 6, "frame", packet_frames=50), 2)
    config = BundleConfig(
        name="tiny-test",
        envelope=env,
        content=content.config.model_dump(),
        f0vq=f0vq.config.model_dump(),
        speaker=speaker.config.model_dump(),
        decoder=decoder.config.model_dump(),
    )
    modules = dict(content=content, f0vq=f0vq, speaker=speaker.eval(), decoder=decoder)
    return save_bundle(folder, config, modules, tables)
