"""The evasion transform suite: edits people make so a re-post escapes hash matching."""
