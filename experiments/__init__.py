"""The experiment scripts, shipped in the wheel as the package ``jaxgd._experiments`` (see ``jaxgd reproduce``).

Each module here not starting with an underscore is one experiment with ``main(out, small=False)``.
"""
