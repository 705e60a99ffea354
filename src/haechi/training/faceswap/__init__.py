"""The face-swap detector's training: self-blended pseudo-fakes from real faces only.

``data``, ``blend``, ``augment`` and ``metrics`` need numpy and Pillow only; ``model`` and
``train`` import torch (the ``train`` extra) and are imported only when training runs.
"""
