"""zbo-gui: find a good KL-weight schedule β(epoch) for a jrVAE by latent Bayesian optimisation."""

__version__ = "0.1.0"
