"""How a model is loaded and run.

Devices, backends (PyTorch, ONNX Runtime), pair encoding, the ONNX cache, and a crossrank
server as the model. Part of the library: it never imports a tooling room.
"""
