"""The embedded default model: procedural world, training, evaluation and model card."""
