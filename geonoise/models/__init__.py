"""Models: the NRN-RSSEG network, model files, inference backends, model sets and export.

Kept empty of imports: the ONNX inference path must not import torch.
"""
