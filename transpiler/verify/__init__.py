"""Running original and converted programs and comparing what they compute.

Only this package (and the weight converter) imports tensorflow or torch, and
only inside the subprocesses that run programs.
"""
