"""Training: losses, augmentation, Lightning tasks and the run from tiles to a model file."""
