"""Export of trained DanceNet checkpoints to the livedance ONNX step model (torch + onnx)."""
