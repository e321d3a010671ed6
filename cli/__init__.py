"""The geonoise command line, installed as :mod:`geonoise.cli`.

Each command is a small module that parses its options, calls one library
function (e.g. ``detect`` calls :func:`geonoise.detection.batch.detect_batch` or
:func:`geonoise.detection.tiles.rank_tile_dir`) and prints what it returns;
heavy libraries are imported inside the commands so that ``geonoise --help``
stays instant. Options that several commands share are defined once in
:mod:`geonoise.cli.options`.
"""
