"""The wire contract shared by the agent and the cloud: topics, records, codec.

Only the standard library is used here, so both sides (and third-party tools) can
import it without pulling in anything else. See docs/protocol.md.
"""

from wire.codec import CODEC_VERSION, decode_batch, encode_batch
from wire.errors import WireError
from wire.records import KINDS, Batch, Record, quantize_position
from wire.topics import DeviceTopic, parse_topic, topic_for

__all__ = [
    "CODEC_VERSION",
    "KINDS",
    "Batch",
    "DeviceTopic",
    "Record",
    "WireError",
    "decode_batch",
    "encode_batch",
    "parse_topic",
    "quantize_position",
    "topic_for",
]
