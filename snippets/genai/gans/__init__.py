"""The chapter "GANs": a generator against a discriminator, trained on 2-D
points and on 8x8 digits, with the ways training fails (docs/gans/).
"""
