"""A bundle's second pair of encoders, for band-limited input such as telephone speech.

Telephone speech (nothing above 4 kHz) makes the wideband content encoder hear other units in
30 % of the frames and the speaker encoder another voice. Encoders taught on band-limited crops
win those back, but cost clean speech words (docs/NOISE.md, *Telephone speech*). So a bundle may
carry both pairs, and the encoder analyses an input with the narrowband pair only when it came
through a narrow channel: its 5.5-7.5 kHz band is empty, under :attr:`NarrowbandConfig.high_below_db`
(:mod:`codec.bandwidth`). Every other input, recordings whose highs merely roll off included, is
coded exactly as without them.

Files of a bundle folder (optional, all three or none)::

    narrowband.json                  NarrowbandConfig: the threshold and a model card
    narrowband_content.safetensors   a content encoder of the bundle's content configuration
    narrowband_speaker.safetensors   a speaker encoder's network (convolutions and projection);
                                     its codebooks and table are the bundle's speaker encoder's

Like ``render.json``, these stay outside the model id (:mod:`codec.bundle_id`): they change which
encoder analyses an input, never what the streams mean. Their units index the same unit table and
their speaker codes the same codebooks, so the decoder, and every earlier release of this model,
decodes their files as any other.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .bundle import computed_state, stored_state
from .content import ContentEncoder
from .errors import ModelError
from .speaker import SpeakerEncoder

CONFIG_FILE = "narrowband.json"
CONTENT_WEIGHTS = "narrowband_content.safetensors"
SPEAKER_WEIGHTS = "narrowband_speaker.safetensors"
FILES = (CONFIG_FILE, CONTENT_WEIGHTS, SPEAKER_WEIGHTS)
# The speaker encoder's buffers that say what its codes mean: always the bundle's own.
SHARED_SPEAKER = ("codebooks", "table")


class NarrowbandConfig(BaseModel):
    """What ``narrowband.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    #: Inputs whose high band (codec.bandwidth.high_band_db) is under this many dB are analysed by
    #: the narrowband pair. Through an 8 kHz channel the train and dev files measure -69 to -57 dB,
    #: the files themselves -45 dB and up (session 17, benchmarks/results/bandwidth.md).
    high_below_db: float = -50.0
    card: dict = {}

    def picks(self, high_db: float) -> bool:
        """Whether an input whose high band measures ``high_db`` is one for the narrowband pair."""
        return high_db < self.high_below_db


class NarrowbandEncoders:
    """The narrowband content and speaker encoders, and when to use them.

    Args:
        config: a :class:`NarrowbandConfig`.
        content: a :class:`codec.content.ContentEncoder` of the bundle's content configuration.
        speaker: a :class:`codec.speaker.SpeakerEncoder` with the bundle's codebooks and table.
    """

    def __init__(self, config: NarrowbandConfig, content: ContentEncoder, speaker: SpeakerEncoder):
        self.config, self.content, self.speaker = config, content.eval(), speaker.eval()

    def applies(self, high_db: float) -> bool:
        """Whether an input whose high band measures ``high_db`` (:func:`codec.bandwidth.high_band_db`)
        is analysed by this pair."""
        return self.config.picks(high_db)

    @classmethod
    def load(cls, folder, content: ContentEncoder, speaker: SpeakerEncoder) -> "NarrowbandEncoders | None":
        """The pair in bundle ``folder``, or ``None`` when it has none.

        Args:
            content, speaker: the bundle's own (wideband) encoders, whose configurations the pair
                must have and whose speaker codebooks and table it takes.

        Raises:
            ModelError: some of the files but not all, an invalid ``narrowband.json``, or weights
                that do not fit.
        """
        folder = Path(folder)
        present = [f for f in FILES if (folder / f).is_file()]
        if not present:
            return None
        if len(present) < len(FILES):
            missing = ", ".join(f for f in FILES if f not in present)
            raise ModelError(f"{folder} has narrowband encoders without {missing}")
        try:
            config = NarrowbandConfig(**json.loads((folder / CONFIG_FILE).read_text()))
        except (ValidationError, ValueError, TypeError) as exc:
            raise ModelError(f"{folder / CONFIG_FILE} is invalid: {exc}") from exc
        from safetensors.torch import load_file

        try:
            narrow_content = ContentEncoder.from_config(content.config)
            narrow_content.load_state_dict(computed_state(load_file(str(folder / CONTENT_WEIGHTS))), strict=True)
            narrow_speaker = copy.deepcopy(speaker)
            state = computed_state(load_file(str(folder / SPEAKER_WEIGHTS)))
            if any(k in state for k in SHARED_SPEAKER):
                raise ValueError(f"it must not hold {' or '.join(SHARED_SPEAKER)}: they are the bundle's")
            narrow_speaker.load_state_dict({**state, **{k: getattr(speaker, k) for k in SHARED_SPEAKER}}, strict=True)
        except Exception as exc:  # safetensors and torch raise their own types
            raise ModelError(f"cannot load the narrowband encoders of {folder}: {exc}") from exc
        return cls(config, narrow_content, narrow_speaker)

    def save(self, folder) -> None:
        """Write the three files into bundle ``folder`` (float16 weights, as bundles store them)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        (folder / CONFIG_FILE).write_text(json.dumps(self.config.model_dump(), indent=1, sort_keys=True))
        save_file(stored_state(self.content.state_dict()), str(folder / CONTENT_WEIGHTS))
        speaker = {k: v for k, v in self.speaker.state_dict().items() if k not in SHARED_SPEAKER}
        save_file(stored_state(speaker), str(folder / SPEAKER_WEIGHTS))

