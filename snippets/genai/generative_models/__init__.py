"""The chapter "What generative models are": a Gaussian mixture fitted with EM,
a discriminative classifier beside it, class-conditional sampling, and
whether samples are new (docs/generative-models/).
"""
