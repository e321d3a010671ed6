"""The geonoise command line, installed as :mod:`geonoise.cli`.

Each command is a small module that converts its options and calls one library
function; heavy libraries are imported inside the commands so that
``geonoise --help`` stays instant.
"""
