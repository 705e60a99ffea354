"""In-memory similarity indexes over perceptual hashes."""

from haechi.index.bits import bits_to_hex, hex_to_bits
from haechi.index.pdq_index import PdqIndex

__all__ = ["PdqIndex", "bits_to_hex", "hex_to_bits"]
