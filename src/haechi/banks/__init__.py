"""Banks: named lists of hashes of known media, with metadata per entry."""
