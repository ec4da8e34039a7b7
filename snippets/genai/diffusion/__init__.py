"""The chapter "Diffusion models": the forward noising process, a denoiser
trained to reverse it, DDPM and DDIM sampling, classifier-free guidance, and
the same pieces in Hugging Face diffusers (docs/diffusion/).
"""
