"""Region matching: catch a known image after it was cropped, framed, captioned or
stickered, from hashes of its parts (see docs/regions.md)."""
