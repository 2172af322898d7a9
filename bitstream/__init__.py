"""srb's bitstream: the ``.srb`` container and its entropy coding (numpy + constriction, no torch).

>>> import numpy as np
>>> from bitstream import Streams, SpeakerCode, write_srb, read_srb
>>> s = Streams(units=np.array([3, 3, 3, 7, 7, 1], np.int32), f0=np.array([0, 5], np.int32),
...             speaker=SpeakerCode.known(12, num_speakers=482), num_samples=1920)
>>> data = write_srb(s)            # uniform tables: no model needed to read it back
>>> read_srb(data) == s
True
"""

from .accounting import BitrateReport, bitrate_report
from .conceal import hold_fill
from .container import Header, read_header
from .edit import change_tempo, set_speaker, shift_pitch
from .errors import SrbError, SrbFormatError, SrbModelMismatchError, SrbStreamsError, SrbTablesError
from .srbfile import DEFAULT_PACKET_FRAMES, LostSpan, Recovered, read_srb, recover_srb, write_srb
from .stream_reader import DecodedPacket, PacketReader, iter_chunks
from .streams import SpeakerCode, Streams, num_frames
from .tables import EntropyTables, Profile, StreamTables, fit_f0_given_units, fit_stream_tables

__all__ = [
    "BitrateReport",
    "DecodedPacket",
    "PacketReader",
    "DEFAULT_PACKET_FRAMES",
    "EntropyTables",
    "Header",
    "LostSpan",
    "Profile",
    "Recovered",
    "SpeakerCode",
    "SrbError",
    "SrbFormatError",
    "SrbModelMismatchError",
    "SrbStreamsError",
    "SrbTablesError",
    "StreamTables",
    "Streams",
    "bitrate_report",
    "change_tempo",
    "hold_fill",
    "iter_chunks",
    "set_speaker",
    "shift_pitch",
    "fit_f0_given_units",
    "fit_stream_tables",
    "num_frames",
    "read_header",
    "read_srb",
    "recover_srb",
    "write_srb",
]
