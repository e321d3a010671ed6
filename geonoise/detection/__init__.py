"""Detection: noise scores, window blending, scene noise maps and tile rankings."""
